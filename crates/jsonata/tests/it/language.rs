//! The language, feature by feature, with examples written from docs.jsonata.org (paths,
//! predicates, wildcards, constructors, grouping, sorting, `%`/`#`/`@`, lambdas, closures,
//! partial application, chaining, conditionals, regex, transforms, errors and positions).

use serde_json::{Value as Json, json};
use sluice_jsonata::{Bindings, Expression};

fn order() -> Json {
    json!({
        "Account": {
            "Name": "Firefly",
            "Order": [
                {
                    "OrderID": "o1",
                    "Product": [
                        { "Name": "Hat", "SKU": 101, "Price": 34.5, "Quantity": 2, "Tags": ["wool", "red"] },
                        { "Name": "Scarf", "SKU": 102, "Price": 20, "Quantity": 1, "Tags": ["silk"] }
                    ]
                },
                {
                    "OrderID": "o2",
                    "Product": [
                        { "Name": "Hat", "SKU": 101, "Price": 34.5, "Quantity": 1, "Tags": ["wool"] },
                        { "Name": "Cloak", "SKU": 103, "Price": 100, "Quantity": 1, "Tags": [] }
                    ]
                }
            ]
        }
    })
}

fn eval_with(expr: &str, input: &Json, bindings: &Bindings<'_>) -> Option<Json> {
    Expression::parse(expr)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
        .evaluate(input, bindings)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
}

fn eval(expr: &str, input: &Json) -> Option<Json> {
    eval_with(expr, input, &Bindings::new())
}

fn check(expr: &str, input: &Json, expected: Json) {
    assert_eq!(eval(expr, input), Some(expected), "{expr}");
}

fn err(expr: &str, input: &Json) -> (String, Option<usize>) {
    match Expression::parse(expr) {
        Err(e) => (e.code().to_string(), e.position()),
        Ok(x) => match x.evaluate(input, &Bindings::new()) {
            Err(e) => (e.code().to_string(), e.position()),
            Ok(v) => panic!("{expr}: expected an error, got {v:?}"),
        },
    }
}

#[test]
fn paths_and_singleton_sequences() {
    let d = order();
    check("Account.Name", &d, json!("Firefly"));
    check("Account.Order[0].OrderID", &d, json!("o1"));
    check("Account.Order.OrderID", &d, json!(["o1", "o2"]));
    check("Account.Order.Product.SKU", &d, json!([101, 102, 101, 103]));
    check("Account.Order[1].Product[0].Tags", &d, json!(["wool"]));
    check("Account.Order.Product[0].Name", &d, json!(["Hat", "Hat"]));
    check(
        "Account.Order.Product.Name[0]",
        &d,
        json!(["Hat", "Scarf", "Hat", "Cloak"]),
    );
    check("(Account.Order.Product.Name)[0]", &d, json!("Hat"));
    check("Account.Order[-1].OrderID", &d, json!("o2"));
    assert_eq!(eval("Account.Missing.Field", &d), None);
    check("Account.`Name`", &d, json!("Firefly"));
}

#[test]
fn keep_array_and_flattening() {
    let d = order();
    check("Account.Order[0].OrderID[]", &d, json!(["o1"]));
    check(
        "Account.Order.Product.Tags",
        &d,
        json!(["wool", "red", "silk", "wool"]),
    );
    check(
        "Account.Order.Product.[Tags]",
        &d,
        json!([["wool", "red"], ["silk"], ["wool"], []]),
    );
    check("[Account.Name]", &d, json!(["Firefly"]));
    check("[1, [2, 3], [[4]]]", &Json::Null, json!([1, [2, 3], [[4]]]));
    check("[1..3, 7]", &Json::Null, json!([1, 2, 3, 7]));
    check("$[0]", &json!([5, 6]), json!(5));
    check("$", &json!([5, 6]), json!([5, 6]));
}

#[test]
fn predicates_wildcards_descendants() {
    let d = order();
    check(
        "Account.Order.Product[Price > 30].Name",
        &d,
        json!(["Hat", "Hat", "Cloak"]),
    );
    check(
        "Account.Order.Product[Quantity = 2 and Price > 30].SKU",
        &d,
        json!(101),
    );
    check(
        "Account.Order.Product[[0, 1]].SKU",
        &d,
        json!([101, 102, 101, 103]),
    );
    check("Account.*.OrderID", &d, json!(["o1", "o2"]));
    check("$count(Account.Order.Product.*)", &d, json!(20));
    // a numeric predicate value selects by position: only `a` (x = 1) sits at index 1
    check(
        "**[x].y",
        &json!({ "a": { "x": 1, "y": 2 }, "b": [{ "x": 3 }] }),
        json!(2),
    );
    check("$distinct(**.SKU)", &d, json!([101, 102, 103]));
    check(
        "Account.Order.Product['silk' in Tags].Name",
        &d,
        json!("Scarf"),
    );
}

#[test]
fn operators() {
    let n = Json::Null;
    check("1 + 2 * 3 - 4 / 2", &n, json!(5));
    check("7 % 3", &n, json!(1));
    check("-(2 + 3)", &n, json!(-5));
    check("'a' & 1 & true & null", &n, json!("a1truenull"));
    check("3 in [1, 2, 3]", &n, json!(true));
    check("'b' > 'a' and 2 >= 2 and 1 != 2", &n, json!(true));
    check("false or 0 or ''", &n, json!(false));
    check(
        "{'a': [1, {'b': 2}]} = {'a': [1, {'b': 2}]}",
        &n,
        json!(true),
    );
    check("x ?: 'default'", &json!({}), json!("default"));
    check("x ?? 'default'", &json!({ "x": 0 }), json!(0));
    check("(1 > 2) ? 'yes' : 'no'", &n, json!("no"));
    assert_eq!(eval("false ? 'yes'", &n), None);
}

#[test]
fn object_constructors_and_grouping() {
    let d = order();
    check(
        "Account.Order.Product{Name: $sum($.(Price * Quantity))}",
        &d,
        json!({ "Hat": 103.5, "Scarf": 20, "Cloak": 100 }),
    );
    check(
        "Account.Order.{OrderID: $count(Product)}",
        &d,
        json!([{ "o1": 2 }, { "o2": 2 }]),
    );
    check("{'a': 1, 'b': undefined}", &Json::Null, json!({ "a": 1 }));
    check(
        "Account.Order.Product{Name: SKU}",
        &d,
        json!({ "Hat": [101, 101], "Scarf": 102, "Cloak": 103 }),
    );
}

#[test]
fn sorting() {
    let d = order();
    check(
        "Account.Order.Product^(>Price, Name).SKU",
        &d,
        json!([103, 101, 101, 102]),
    );
    check("[3, 1, 2]^($)", &Json::Null, json!([1, 2, 3]));
    check(
        "$sort(['b', 'c', 'a'])",
        &Json::Null,
        json!(["a", "b", "c"]),
    );
    check(
        "$sort(Account.Order.Product, function($l, $r){ $l.Price < $r.Price }).Name",
        &d,
        json!(["Cloak", "Hat", "Hat", "Scarf"]),
    );
}

#[test]
fn context_positional_and_parent_bindings() {
    let d = order();
    check(
        "Account.Order.Product#$i[$i = 0].Name",
        &d,
        json!(["Hat", "Hat"]),
    );
    // `@` binds without moving the context: a join of two sibling arrays
    let shop = json!({
        "orders": [{ "id": 1, "cust": "a" }, { "id": 2, "cust": "b" }, { "id": 3, "cust": "a" }],
        "customers": [{ "id": "a", "name": "Ann" }, { "id": "b", "name": "Bob" }]
    });
    check(
        "orders@$o.customers@$c[$c.id = $o.cust].{'order': $o.id, 'name': $c.name}",
        &shop,
        json!([
            { "order": 1, "name": "Ann" },
            { "order": 2, "name": "Bob" },
            { "order": 3, "name": "Ann" }
        ]),
    );
    check(
        "orders@$o.customers@$c[$c.id = $o.cust]{$c.name: $count($o)}",
        &shop,
        json!({ "Ann": 2, "Bob": 1 }),
    );
    check(
        "Account.Order.Product.{'name': Name, 'order': %.OrderID}[name = 'Cloak']",
        &d,
        json!({ "name": "Cloak", "order": "o2" }),
    );
    check(
        "Account.Order.Product[Name = 'Scarf'].%.%.Name",
        &d,
        json!("Firefly"),
    );
}

#[test]
fn lambdas_closures_partial_application_chaining() {
    let n = Json::Null;
    check(
        "($add := function($a, $b){ $a + $b }; $add(2, 3))",
        &n,
        json!(5),
    );
    check("(function($x){ $x * $x })(4)", &n, json!(16));
    check(
        "($counter := function($start){ function($step){ $start + $step } }; $c := $counter(10); $c(5))",
        &n,
        json!(15),
    );
    check(
        "($first3 := $substring(?, 0, 3); $first3('abcdef'))",
        &n,
        json!("abc"),
    );
    check("'  Hello  ' ~> $trim() ~> $uppercase()", &n, json!("HELLO"));
    check(
        "($shout := $trim ~> $uppercase; $shout('  hi '))",
        &n,
        json!("HI"),
    );
    check(
        "($fact := function($n){ $n <= 1 ? 1 : $n * $fact($n - 1) }; $fact(10))",
        &n,
        json!(3_628_800),
    );
    check("λ($x)<n:n>{ $x + 1 }(1)", &n, json!(2));
    check("($v := 1; ($v := 2); $v)", &n, json!(1));
}

#[test]
fn higher_order_functions() {
    let n = Json::Null;
    check(
        "$map([1, 2, 3], function($v, $i){ $v * $i })",
        &n,
        json!([0, 2, 6]),
    );
    check(
        "$filter([1, 2, 3, 4], function($v){ $v % 2 = 0 })",
        &n,
        json!([2, 4]),
    );
    check(
        "$reduce([1, 2, 3, 4], function($a, $b){ $a + $b }, 10)",
        &n,
        json!(20),
    );
    check("$single([1, 2, 3], function($v){ $v = 2 })", &n, json!(2));
    check(
        "$each({'a': 1, 'b': 2}, function($v, $k){ $k & '=' & $v })",
        &n,
        json!(["a=1", "b=2"]),
    );
    check(
        "$sift({'a': 1, 'b': 2, 'c': 3}, function($v){ $v > 1 })",
        &n,
        json!({ "b": 2, "c": 3 }),
    );
    check("$zip([1, 2], ['a', 'b'])", &n, json!([[1, "a"], [2, "b"]]));
}

#[test]
fn standard_library() {
    let n = Json::Null;
    check("$string(1.5e21)", &n, json!("1.5e+21"));
    check("$string({'a': [1, 2.50]})", &n, json!("{\"a\":[1,2.5]}"));
    check("$number('0x1F') + $number('12.5')", &n, json!(43.5));
    check("$sum([1, 2, 3]) / $count([1, 2, 3])", &n, json!(2));
    check(
        "[$max([1, 9, 3]), $min([4, 2]), $average([1, 2])]",
        &n,
        json!([9, 2, 1.5]),
    );
    check(
        "[$round(2.5), $round(3.5), $round(1.2345, 2)]",
        &n,
        json!([2, 4, 1.23]),
    );
    check(
        "[$floor(-1.5), $ceil(1.2), $abs(-3), $sqrt(16), $power(2, 10)]",
        &n,
        json!([-2, 2, 3, 4, 1024]),
    );
    check("$substring('Hello World', -5, 3)", &n, json!("Wor"));
    check(
        "[$substringBefore('a-b', '-'), $substringAfter('a-b', '-')]",
        &n,
        json!(["a", "b"]),
    );
    check("$pad('7', -3, '0')", &n, json!("007"));
    check("$split('a,b,,c', ',', 3)", &n, json!(["a", "b", ""]));
    check("$join(['a', 'b'], '+')", &n, json!("a+b"));
    check("$length('héllo')", &n, json!(5));
    check("$formatNumber(1234.5, '#,##0.00')", &n, json!("1,234.50"));
    check("$formatNumber(0.25, '0%')", &n, json!("25%"));
    check("$formatBase(255, 16)", &n, json!("ff"));
    check(
        "$formatInteger(2024, 'W')",
        &n,
        json!("TWO THOUSAND AND TWENTY-FOUR"),
    );
    check("$formatInteger(14, '01;o')", &n, json!("14th"));
    check("$parseInteger('MMXXIV', 'I')", &n, json!(2024));
    check("$keys({'a': 1, 'b': 2})", &n, json!(["a", "b"]));
    check("$lookup({'a': 1}, 'a')", &n, json!(1));
    check(
        "$merge([{'a': 1}, {'b': 2, 'a': 3}])",
        &n,
        json!({ "a": 3, "b": 2 }),
    );
    check(
        "$spread({'a': 1, 'b': 2})",
        &n,
        json!([{ "a": 1 }, { "b": 2 }]),
    );
    check("$append([1], 2)", &n, json!([1, 2]));
    check("$reverse([1, 2, 3])", &n, json!([3, 2, 1]));
    check(
        "[$type(1), $type('s'), $type(null), $type([]), $type({}), $type($sum)]",
        &n,
        json!(["number", "string", "null", "array", "object", "function"]),
    );
    check(
        "[$boolean([]), $boolean([0, 1]), $not('')]",
        &n,
        json!([false, true, true]),
    );
    check("$exists(nothing)", &n, json!(false));
    check(
        "$base64decode($base64encode('hello:world'))",
        &n,
        json!("hello:world"),
    );
    check("$encodeUrlComponent('a b&c')", &n, json!("a%20b%26c"));
    check(
        "$decodeUrl('https://x.org/a%20b')",
        &n,
        json!("https://x.org/a b"),
    );
    check("$eval('[1, 2].($ * 10)')", &n, json!([10, 20]));
}

#[test]
fn regular_expressions() {
    let n = Json::Null;
    check("$contains('Hello', /l+/)", &n, json!(true));
    check(
        "$match('ab12cd345', /[0-9]+/).match",
        &n,
        json!(["12", "345"]),
    );
    check(
        "$match('2024-11', /(\\d+)-(\\d+)/).groups",
        &n,
        json!(["2024", "11"]),
    );
    check(
        "$replace('John Smith', /(\\w+)\\s(\\w+)/, '$2, $1')",
        &n,
        json!("Smith, John"),
    );
    check(
        "$replace('a1b22', /\\d+/, function($m){ '<' & $m.match & '>' })",
        &n,
        json!("a<1>b<22>"),
    );
    check("$split('a1b2c', /\\d/)", &n, json!(["a", "b", "c"]));
    check(
        "['Apple', 'banana', 'avocado'][$ ~> /^a/i]",
        &n,
        json!(["Apple", "avocado"]),
    );
}

#[test]
fn transforms() {
    let d = json!({ "a": { "x": 1, "y": 2 }, "b": [{ "x": 3 }] });
    check(
        "$ ~> |a|{'z': x + y}, ['y']|",
        &d,
        json!({ "a": { "x": 1, "z": 3 }, "b": [{ "x": 3 }] }),
    );
    check(
        "$ ~> |**[$exists(x)]|{'x': x * 10}|",
        &d,
        json!({ "a": { "x": 10, "y": 2 }, "b": [{ "x": 30 }] }),
    );
    // the input itself is never modified
    check("($ ~> |a|{'x': 9}|; a.x)", &d, json!(1));
}

#[test]
fn date_time() {
    let n = Json::Null;
    check(
        "$toMillis('2024-02-29T12:00:00Z')",
        &n,
        json!(1_709_208_000_000_i64),
    );
    check(
        "$toMillis('2024-02-29T12:00:00.5+01:00')",
        &n,
        json!(1_709_204_400_500_i64),
    );
    check(
        "$fromMillis(1709208000000)",
        &n,
        json!("2024-02-29T12:00:00.000Z"),
    );
    check(
        "$fromMillis(1709208000000, '[FNn], [D1o] [MNn] [Y] [h]:[m01][P]', '-0500')",
        &n,
        json!("Thursday, 29th February 2024 7:00am"),
    );
    check(
        "$toMillis('29/02/2024', '[D]/[M]/[Y]')",
        &n,
        json!(1_709_164_800_000_i64),
    );
}

#[test]
fn now_and_millis_are_fixed_per_evaluation_and_injectable() {
    let b = Bindings::new().with_now(1_700_000_000_123);
    assert_eq!(
        eval_with("$millis()", &Json::Null, &b),
        Some(json!(1_700_000_000_123_i64))
    );
    assert_eq!(
        eval_with("$now()", &Json::Null, &b),
        Some(json!("2023-11-14T22:13:20.123Z"))
    );
    assert_eq!(
        eval_with("[1..1000].$millis() ~> $distinct()", &Json::Null, &b),
        Some(json!(1_700_000_000_123_i64))
    );
    struct Fixed;
    impl sluice_jsonata::Clock for Fixed {
        fn now_millis(&self) -> i64 {
            86_400_000
        }
    }
    let clock = Fixed;
    let b = Bindings::new().with_clock(&clock);
    assert_eq!(
        eval_with("$now('[Y]-[M01]-[D01]')", &Json::Null, &b),
        Some(json!("1970-01-02"))
    );
}

#[test]
fn random_is_seeded() {
    let b = Bindings::new().with_seed(7);
    let first = eval_with("[$random(), $random()]", &Json::Null, &b);
    let again = eval_with("[$random(), $random()]", &Json::Null, &b);
    assert_eq!(first, again);
    let Some(Json::Array(pair)) = first else {
        panic!("two numbers")
    };
    assert_ne!(pair[0], pair[1]);
    assert!(
        pair.iter()
            .all(|v| v.as_f64().is_some_and(|x| (0.0..1.0).contains(&x)))
    );
}

#[test]
fn variables_from_bindings_are_borrowed_and_shadowable() {
    let states = json!({ "input": { "detail": { "severity": "high" } } });
    let b = Bindings::new()
        .with_ref("states", &states)
        .with_value("limit", json!(3));
    assert_eq!(
        eval_with(
            "$states.input.detail.severity = 'high' and $limit = 3",
            &Json::Null,
            &b
        ),
        Some(json!(true))
    );
    assert_eq!(
        eval_with("($limit := 4; $limit)", &Json::Null, &b),
        Some(json!(4))
    );
}

#[test]
fn errors_carry_codes_and_positions() {
    let n = Json::Null;
    assert_eq!(err("1 +", &n), ("S0207".into(), Some(3)));
    assert_eq!(err("'unterminated", &n), ("S0101".into(), Some(13)));
    assert_eq!(err("[1, 2", &n).0, "S0203");
    assert_eq!(err("$x := ", &n).0, "S0207");
    assert_eq!(err("/[/", &n).0, "S0302");
    assert_eq!(err("/(?<=a)b/", &n).0, "S0303");
    assert_eq!(err("1 ! 2", &n).0, "S0204");
    assert_eq!(err("'a' + 1", &n), ("T2001".into(), Some(5)));
    assert_eq!(err("1 < 'a'", &n).0, "T2009");
    assert_eq!(err("$unknown()", &n).0, "T1006");
    assert_eq!(err("$sum('a')", &n).0, "T0412");
    assert_eq!(err("$substring(1)", &n).0, "T0411");
    assert_eq!(err("$substring('a', 'b')", &n).0, "T0410");
    assert_eq!(err("{1: 2}", &n).0, "T1003");
    assert_eq!(err("$error('boom')", &n).0, "D3137");
    assert_eq!(err("$number('abc')", &n).0, "D3030");
    assert_eq!(err("[1..1.5]", &n).0, "T2004");
    assert_eq!(err("%.a", &n).0, "S0217");
    let e = Expression::parse("$error('boom')")
        .expect("parses")
        .evaluate(&n, &Bindings::new())
        .expect_err("fails");
    assert_eq!(e.message(), "boom");
}

#[test]
fn non_json_results() {
    let e = Expression::parse("function($x){ $x }").expect("parses");
    let err = e
        .evaluate(&Json::Null, &Bindings::new())
        .expect_err("functions are not JSON");
    assert_eq!(err.code(), "D1099");
    check(
        "{'f': function(){1}, 'a': 1}",
        &Json::Null,
        json!({ "a": 1 }),
    );
    check("[1, $sum]", &Json::Null, json!([1, null]));
    let e = Expression::parse("1/0").expect("parses");
    assert_eq!(
        e.evaluate(&Json::Null, &Bindings::new())
            .expect_err("Infinity is not JSON")
            .code(),
        "D1099"
    );
}

#[test]
fn expressions_are_shared_across_threads() {
    let e = std::sync::Arc::new(Expression::parse("$sum(items.price)").expect("parses"));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let e = e.clone();
            std::thread::spawn(move || {
                let input = json!({ "items": [{ "price": i }, { "price": 1 }] });
                e.evaluate(&input, &Bindings::new()).expect("evaluates")
            })
        })
        .collect();
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("joins"))
        .collect();
    assert_eq!(
        results,
        vec![
            Some(json!(1)),
            Some(json!(2)),
            Some(json!(3)),
            Some(json!(4))
        ]
    );
}
