//! Each operator on the documented examples (and cases recorded against AWS): pattern, event,
//! whether it matches.

use serde_json::{Value, json};
use sluice_patterns::{Dialect, Pattern};

fn check(dialect: Dialect, cases: &[(Value, Value, bool)]) {
    for (pattern, event, expected) in cases {
        let compiled = Pattern::from_value(pattern, dialect)
            .unwrap_or_else(|e| panic!("{pattern} is valid: {e}"));
        assert_eq!(
            compiled.matches(event),
            *expected,
            "{dialect:?}: {pattern} against {event}"
        );
    }
}

fn eventbridge(cases: &[(Value, Value, bool)]) {
    check(Dialect::EventBridge, cases);
}

#[test]
fn exact_values() {
    eventbridge(&[
        (
            json!({"source": ["aws.ec2"]}),
            json!({"source": "aws.ec2"}),
            true,
        ),
        (
            json!({"source": ["aws.ec2", "aws.fargate"]}),
            json!({"source": "aws.fargate"}),
            true,
        ),
        (
            json!({"source": ["aws.ec2"]}),
            json!({"source": "aws.s3"}),
            false,
        ),
        (json!({"source": ["aws.ec2"]}), json!({}), false),
        (json!({"MY_KEY": ["v"]}), json!({"my_key": "v"}), false),
        (json!({"b": [false]}), json!({"b": false}), true),
        (json!({"b": [false]}), json!({"b": true}), false),
        (json!({"n": [300]}), json!({"n": 300.0}), true),
        (json!({"n": [300]}), json!({"n": "300"}), false),
        (json!({"s": ["300"]}), json!({"s": 300}), false),
        (json!({"x": [null]}), json!({"x": null}), true),
        (json!({"x": [null]}), json!({"x": "null"}), false),
        (json!({"x": [null]}), json!({}), false),
        (json!({"x": [""]}), json!({"x": ""}), true),
        (json!({"x": [""]}), json!({"x": "a"}), false),
        (
            json!({"s": ["A CamelCase string with an emoji 🚀 and trailing whitespace "]}),
            json!({"s": "A CamelCase string with an emoji 🚀 and trailing whitespace "}),
            true,
        ),
        (json!({}), json!({"anything": 1}), true),
    ]);
}

#[test]
fn arrays_in_events_match_if_any_element_does() {
    eventbridge(&[
        (
            json!({"resources": ["arn:a", "arn:b", "arn:c"]}),
            json!({"resources": ["arn:x", "arn:b"]}),
            true,
        ),
        (
            json!({"resources": ["arn:a"]}),
            json!({"resources": ["arn:x"]}),
            false,
        ),
        (
            json!({"resources": [null]}),
            json!({"resources": []}),
            false,
        ),
        (json!({"r": ["x"]}), json!({"r": [["x"]]}), true),
        (json!({"r": [{"exists": true}]}), json!({"r": []}), false),
        (json!({"r": [{"exists": false}]}), json!({"r": []}), true),
        (json!({"r": [{"exists": true}]}), json!({"r": [1]}), true),
        // Arrays of objects: any element's field.
        (
            json!({"detail": {"automations": {"id": [{"exists": true}]}}}),
            json!({"detail": {"automations": [{"k": 1}, {"id": "x"}, {"k": 2}]}}),
            true,
        ),
        // Fields under one key come from one element.
        (
            json!({"a": {"b": [1], "c": [2]}}),
            json!({"a": [{"b": 1, "c": 0}, {"b": 0, "c": 2}]}),
            false,
        ),
        (
            json!({"a": {"b": [1], "c": [2]}}),
            json!({"a": [{"b": 0}, {"b": 1, "c": 2}]}),
            true,
        ),
    ]);
}

#[test]
fn nested_fields_and_dotted_keys() {
    eventbridge(&[
        (
            json!({"detail": {"state": ["terminated"]}, "source": ["aws.ec2"]}),
            json!({"source": "aws.ec2", "detail": {"state": "terminated", "x": 1}}),
            true,
        ),
        (
            json!({"detail": {"my-key": ["v"]}}),
            json!({"detail": "{\"my-key\": \"v\"}"}),
            false,
        ),
        (
            json!({"dynamodb": {"NewImage": {"homemade": {"N": ["1234"]}}}}),
            json!({"dynamodb": {"NewImage": {"homemade": {"S": "ABCD", "N": "1234"}}}}),
            true,
        ),
        (
            json!({"detail": {"state": {"status": ["running"]}}}),
            json!({"detail": {"state.status": "running"}}),
            true,
        ),
        (
            json!({"detail": {"state": {"status": ["running"]}}}),
            json!({"detail": {"state.status": {"status": "running"}}}),
            false,
        ),
        (
            json!({"detail": {"state.status": ["running"]}}),
            json!({"detail": {"state": {"status": "running"}}}),
            true,
        ),
        (
            json!({"detail": {"state.status": {"status": ["running"]}}}),
            json!({"detail": {"state": {"status": "running"}}}),
            false,
        ),
        (
            json!({"a": {"b": {"c": ["x"]}}}),
            json!({"a.b.c": "x"}),
            true,
        ),
        (
            json!({"a": {"b": {"c": ["x"]}}}),
            json!({"a": {"b.c": "x"}}),
            true,
        ),
    ]);
}

#[test]
fn prefix_and_suffix() {
    eventbridge(&[
        (
            json!({"time": [{"prefix": "2017-10-02"}]}),
            json!({"time": "2017-10-02T18:43:48Z"}),
            true,
        ),
        (
            json!({"time": [{"prefix": "2017-10-02"}]}),
            json!({"time": "2017-10-03T18:43:48Z"}),
            false,
        ),
        (
            json!({"source": [{"prefix": ""}]}),
            json!({"source": "x"}),
            true,
        ),
        (json!({"n": [{"prefix": "1"}]}), json!({"n": 12}), false),
        (
            json!({"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}}),
            json!({"detail": {"service": "EvEnTbridge"}}),
            true,
        ),
        (
            json!({"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}}),
            json!({"detail": {"service": "Event"}}),
            false,
        ),
        (
            json!({"FileName": [{"suffix": ".png"}]}),
            json!({"FileName": "image.png"}),
            true,
        ),
        (
            json!({"FileName": [{"suffix": ".PNG"}]}),
            json!({"FileName": "image.png"}),
            false,
        ),
        (
            json!({"source": [{"suffix": ""}]}),
            json!({"source": "x"}),
            true,
        ),
        (
            json!({"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}}),
            json!({"detail": {"FileName": "image.PNG"}}),
            true,
        ),
        (
            json!({"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}}),
            json!({"detail": {"FileName": "image.jpg"}}),
            false,
        ),
    ]);
}

#[test]
fn anything_but() {
    let state = |s: Value| json!({"detail": {"state": s}});
    eventbridge(&[
        (
            state(json!([{"anything-but": "initializing"}])),
            state(json!("pending")),
            true,
        ),
        (
            state(json!([{"anything-but": "initializing"}])),
            state(json!("initializing")),
            false,
        ),
        (
            state(json!([{"anything-but": "initializing"}])),
            state(json!(null)),
            true,
        ),
        (
            state(json!([{"anything-but": "initializing"}])),
            json!({"detail": {}}),
            false,
        ),
        (
            state(json!([{"anything-but": 123}])),
            state(json!(789)),
            true,
        ),
        (
            state(json!([{"anything-but": 123}])),
            state(json!(123)),
            false,
        ),
        (state(json!([{"anything-but": 0}])), state(json!(789)), true),
        (
            state(json!([{"anything-but": [100, 200, 300]}])),
            state(json!(999)),
            true,
        ),
        (
            state(json!([{"anything-but": [100, 200, 300]}])),
            state(json!(100)),
            false,
        ),
        (
            state(json!([{"anything-but": ["stopped", "overloaded"]}])),
            state(json!("pending")),
            true,
        ),
        (
            state(json!([{"anything-but": ["stopped", "overloaded"]}])),
            state(json!("stopped")),
            false,
        ),
        (
            state(json!([{"anything-but": {"prefix": "init"}}])),
            state(json!("post-init")),
            true,
        ),
        (
            state(json!([{"anything-but": {"prefix": "init"}}])),
            state(json!("init-x")),
            false,
        ),
        (
            state(json!([{"anything-but": {"prefix": "init"}}])),
            state(json!(12)),
            true,
        ),
        (
            state(json!([{"anything-but": {"prefix": "init"}}])),
            state(json!(null)),
            true,
        ),
        (
            state(json!([{"anything-but": {"prefix": "init"}}])),
            json!({"detail": {}}),
            false,
        ),
        (
            state(json!([{"anything-but": {"prefix": ["init", "post"]}}])),
            state(json!("post-init")),
            false,
        ),
        (
            state(json!([{"anything-but": {"suffix": ".txt"}}])),
            state(json!("file.txt.bak")),
            true,
        ),
        (
            state(json!([{"anything-but": {"suffix": ".txt"}}])),
            state(json!("file.txt")),
            false,
        ),
        (
            state(json!([{"anything-but": {"suffix": [".txt", ".jpg"]}}])),
            state(json!("f.jpg")),
            false,
        ),
        (
            state(json!([{"anything-but": {"equals-ignore-case": "initializing"}}])),
            state(json!("pending")),
            true,
        ),
        (
            state(json!([{"anything-but": {"equals-ignore-case": "initializing"}}])),
            state(json!("INITIALIZING")),
            false,
        ),
        (
            state(json!([{"anything-but": {"equals-ignore-case": ["initializing", "stopped"]}}])),
            state(json!("Stopped")),
            false,
        ),
        (
            state(json!([{"anything-but": {"wildcard": "*/dir/*"}}])),
            state(json!("dir/init/file")),
            true,
        ),
        (
            state(json!([{"anything-but": {"wildcard": "*/init/*"}}])),
            state(json!("dir/init/file")),
            false,
        ),
        (
            state(json!([{"anything-but": {"wildcard": "*/dir/*"}}])),
            state(json!(123)),
            true,
        ),
        (
            state(json!([{"anything-but": {"wildcard": ""}}])),
            state(json!("dir")),
            true,
        ),
        (
            state(json!([{"anything-but": {"wildcard": ["*/init/*", "*/dir/*"]}}])),
            state(json!("dir/init/dir")),
            false,
        ),
        // Any element of an array that is not excluded.
        (
            state(json!([{"anything-but": "a"}])),
            state(json!(["a", "b"])),
            true,
        ),
        (
            state(json!([{"anything-but": "a"}])),
            state(json!(["a"])),
            false,
        ),
    ]);
}

#[test]
fn numeric() {
    let n = |v: Value| json!({"n": v});
    let range = |r: Value| json!({"n": [{"numeric": r}]});
    eventbridge(&[
        (range(json!(["<", 200])), n(json!(100)), true),
        (range(json!(["<", 200])), n(json!(200)), false),
        (range(json!(["<=", 200])), n(json!(200)), true),
        (range(json!([">", 200])), n(json!(200)), false),
        (range(json!([">=", 200])), n(json!(200)), true),
        (range(json!(["=", 3.018e2])), n(json!(301.8)), true),
        (range(json!(["=", 100])), n(json!(100.0)), true),
        (range(json!([">", 0, "<=", 5])), n(json!(3)), true),
        (range(json!([">", 0, "<=", 5])), n(json!(5)), true),
        (range(json!([">", 0, "<=", 5])), n(json!(0)), false),
        (range(json!([">", 0, "<=", 5])), n(json!(42)), false),
        (range(json!([">=", 200, "<", 500])), n(json!(500)), false),
        (range(json!([">", 100])), n(json!(101.0)), true),
        (range(json!([">", 100])), n(json!("300")), false),
        (range(json!([">", 100])), n(json!(null)), false),
        (range(json!([">", 100])), json!({}), false),
        (range(json!([">", -1e9, "<", 1e9])), n(json!(-5.5)), true),
        (range(json!([">", 10])), n(json!([1, 20])), true),
        (
            json!({"detail": {"$or": [
                {"c-count": [{"numeric": [">", 0, "<=", 5]}]},
                {"d-count": [{"numeric": ["<", 10]}]},
                {"x-limit": [{"numeric": ["=", 3.018e2]}]}
            ]}}),
            json!({"detail": {"c-count": 0, "d-count": 0, "x-limit": 9.018e2}}),
            true,
        ),
        (
            json!({"detail": {"$or": [
                {"c-count": [{"numeric": [">", 0, "<=", 5]}]},
                {"d-count": [{"numeric": ["<", 10]}]}
            ]}}),
            json!({"detail": {"c-count": 0, "d-count": 10}}),
            false,
        ),
    ]);
}

#[test]
fn exists() {
    eventbridge(&[
        (
            json!({"detail": {"state": [{"exists": true}]}}),
            json!({"detail": {"state": "x"}}),
            true,
        ),
        (
            json!({"detail": {"state": [{"exists": true}]}}),
            json!({"detail": {"c": {"c1": 1}}}),
            false,
        ),
        (
            json!({"detail": {"state": [{"exists": true}]}}),
            json!({"detail": {"state": null}}),
            true,
        ),
        (
            json!({"detail": {"state": [{"exists": false}]}}),
            json!({"detail": {"c": 1}}),
            true,
        ),
        (
            json!({"detail": {"state": [{"exists": false}]}}),
            json!({}),
            true,
        ),
        (
            json!({"detail": {"state": [{"exists": false}]}}),
            json!({"detail": {"state": "x"}}),
            false,
        ),
        (
            json!({"detail": {"level1": {"level2:": {"level3": {"level4": [{"exists": false}]}}}}}),
            json!({"detail": {"level1": {"level2": "v"}}}),
            true,
        ),
        (
            json!({"detail": {"level1": {"level2": {"level3": {"level4": [{"exists": false}]}}}}}),
            json!({"detail": {"level1": {"level2": {"level3": {"level4": "v"}}}}}),
            false,
        ),
        // Only leaves exist: an object does not.
        (
            json!({"dynamodb": {"presentKey": [{"exists": true}]}}),
            json!({"dynamodb": {"presentKey": {"S": "x"}}}),
            false,
        ),
        (
            json!({"dynamodb": {"presentKey": {"S": [{"exists": true}]}}}),
            json!({"dynamodb": {"presentKey": {"S": "x"}}}),
            true,
        ),
        // Expressions of a field are alternatives.
        (
            json!({"h": {"S": [{"anything-but": ["roses"]}, {"exists": false}]}}),
            json!({"h": {"N": "789"}}),
            true,
        ),
        (
            json!({"h": {"S": [{"anything-but": ["roses"]}, {"exists": false}]}}),
            json!({"h": {"S": "roses"}}),
            false,
        ),
        (
            json!({"k": [{"exists": true}, {"prefix": "IGNORED"}]}),
            json!({"k": "v"}),
            true,
        ),
    ]);
}

#[test]
fn equals_ignore_case() {
    eventbridge(&[
        (
            json!({"detail-type": [{"equals-ignore-case": "ec2 instance state-change notification"}]}),
            json!({"detail-type": "EC2 Instance State-change Notification"}),
            true,
        ),
        (
            json!({"v": [{"equals-ignore-case": "alice"}]}),
            json!({"v": "ALICE"}),
            true,
        ),
        (
            json!({"v": [{"equals-ignore-case": "alice"}]}),
            json!({"v": "bob"}),
            false,
        ),
        (
            json!({"v": [{"equals-ignore-case": ""}]}),
            json!({"v": ""}),
            true,
        ),
        (
            json!({"v": [{"equals-ignore-case": ""}]}),
            json!({"v": "x"}),
            false,
        ),
        (
            json!({"v": [{"equals-ignore-case": "1"}]}),
            json!({"v": 1}),
            false,
        ),
    ]);
}

#[test]
fn wildcard() {
    let f = |w: &str| json!({"FileName": [{"wildcard": w}]});
    let e = |s: &str| json!({"FileName": s});
    eventbridge(&[
        (f("/Users/*/doc.txt"), e("/Users/u/dir/dir/doc.txt"), true),
        (
            f("/Users/*/doc.txt"),
            e("/Users/u/dir/notmatchingdoc.txt"),
            false,
        ),
        (
            f("/Users/*/dir/dir/doc.txt"),
            e("/Users/u/dir/dir/doc.txt"),
            true,
        ),
        (
            f("/Users/*/dir/dir/doc.txt"),
            e("/Users/u/dir/other/doc.txt"),
            false,
        ),
        (
            f("arn:aws:events:us-east-1:*:event-bus/*"),
            e("arn:aws:events:us-east-1:123456789012:event-bus/myEventBus"),
            true,
        ),
        (f("dir/*.png"), e("dir/a.png"), true),
        (f("dir/*.png"), e("other/a.png"), false),
        (f("*Title*"), e("A Title here"), true),
        (f(""), e(""), true),
        (f(""), e("x"), false),
        (f("*"), e("*"), true),
        (f("a\\*b"), e("a*b"), true),
        (f("a\\*b"), e("axb"), false),
        (f("\\\\"), e("\\"), true),
        (json!({"n": [{"wildcard": "1*"}]}), json!({"n": 12}), false),
    ]);
}

#[test]
fn cidr() {
    let c = |cidr: &str| json!({"detail": {"sourceIPAddress": [{"cidr": cidr}]}});
    let e = |ip: Value| json!({"detail": {"sourceIPAddress": ip}});
    eventbridge(&[
        (c("10.0.0.0/24"), e(json!("10.0.0.255")), true),
        (c("10.0.0.0/24"), e(json!("10.0.1.0")), false),
        (c("10.0.0.0/24"), e(json!("10.0.0.256")), false),
        (c("10.0.0.0/24"), e(json!(123)), false),
        (c("10.0.0.0/24"), e(json!("::ffff:10.0.0.1")), false),
        (c("0.0.0.0/0"), e(json!("192.168.1.1")), true),
        (c("10.0.0.7/32"), e(json!("10.0.0.7")), true),
        (
            c("2001:db8:1234:1a00::/64"),
            e(json!("2001:0db8:1234:1a00:0000:0000:0000:0000")),
            true,
        ),
        (
            c("2001:db8:1234:1a00::/64"),
            e(json!("2001:0db8:123f:1a01:0000:0000:0000:0000")),
            false,
        ),
        (c("2001:db8:1234:1a00::/64"), e(json!("10.0.0.1")), false),
    ]);
}

#[test]
fn or() {
    eventbridge(&[
        (
            json!({"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]}),
            json!({"Location": "Boston", "Day": "Monday"}),
            true,
        ),
        (
            json!({"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]}),
            json!({"Location": "Boston", "Day": "Sunday"}),
            false,
        ),
        (
            json!({"source": ["aws.ec2"], "$or": [{"a": [1]}, {"b": [2]}]}),
            json!({"source": "aws.s3", "b": 2}),
            false,
        ),
        (
            json!({"$or": [{"a": [1]}, {"$or": [{"b": [2]}, {"c": [3]}]}]}),
            json!({"c": 3}),
            true,
        ),
        // `$or` over fewer than two objects is a field's name.
        (json!({"$or": ["x"]}), json!({"$or": "x"}), true),
    ]);
}

#[test]
fn a_complex_documented_example() {
    let pattern = json!({
        "time": [{"prefix": "2022-07-13"}],
        "detail": {
            "state": [{"anything-but": "initializing"}],
            "c-count": [{"numeric": [">", 0, "<=", 5]}],
            "d-count": [{"numeric": ["<", 10]}],
            "x-limit": [{"anything-but": [100, 200, 300]}]
        }
    });
    let event = |x: u32| {
        json!({"time": "2022-07-13T13:48:01Z",
            "detail": {"state": "processing", "c-count": 3, "d-count": 9, "x-limit": x}})
    };
    eventbridge(&[
        (pattern.clone(), event(999), true),
        (pattern, event(300), false),
    ]);
}

#[test]
fn every_dialect_shares_the_common_operators() {
    let cases = [
        (
            json!({"body": {"a": [{"prefix": "x"}]}}),
            json!({"body": {"a": "xy"}}),
            true,
        ),
        (
            json!({"data": {"t": [{"numeric": [">", 40]}]}}),
            json!({"data": {"t": 46}}),
            true,
        ),
        (
            json!({"a": [{"anything-but": ["Raining"]}]}),
            json!({"a": "Sunny"}),
            true,
        ),
        (json!({"a": [{"exists": false}]}), json!({}), true),
        (
            json!({"a": [{"equals-ignore-case": "x"}]}),
            json!({"a": "X"}),
            true,
        ),
        (json!({"a": [{"suffix": "y"}]}), json!({"a": "xy"}), true),
    ];
    check(Dialect::EventSourceMapping, &cases);
    check(Dialect::SnsBody, &cases);
}
