//! Refused patterns and AWS's messages for them (as recorded against AWS).

use serde_json::{Value, json};
use sluice_patterns::{Dialect, Pattern, Reason, SnsAction};

fn reason(pattern: &Value, dialect: Dialect) -> String {
    match Pattern::from_value(pattern, dialect) {
        Ok(_) => panic!("{pattern} should be refused in {dialect:?}"),
        Err(e) => e.reason().to_string(),
    }
}

#[test]
fn eventbridge_reasons() {
    let cases: &[(Value, &str)] = &[
        (json!({"resources": []}), "Empty arrays are not allowed"),
        (json!({"int": 42}), "\"int\" must be an object or an array"),
        (
            json!({"string": "my-value"}),
            "\"string\" must be an object or an array",
        ),
        (
            json!({"k": [["v"]]}),
            "Match value must be String, number, true, false, or null",
        ),
        (
            json!({"k": [{"suffix": "v", "prefix": "w"}]}),
            "Only one key allowed in match expression",
        ),
        (
            json!({"k": [{"EXISTS": true}]}),
            "Unrecognized match type EXISTS",
        ),
        (
            json!({"k": [{"NUMERIC": ["=", 5]}]}),
            "Unrecognized match type NUMERIC",
        ),
        (
            json!({"k": [{"exists": "yes"}]}),
            "exists match pattern must be either true or false.",
        ),
        (
            json!({"k": [{"prefix": 123}]}),
            "prefix match pattern must be a string",
        ),
        (
            json!({"k": [{"prefix": ["x"]}]}),
            "prefix match pattern must be a string",
        ),
        (
            json!({"k": [{"suffix": 123}]}),
            "suffix match pattern must be a string",
        ),
        (
            json!({"k": [{"equals-ignore-case": ["x"]}]}),
            "equals-ignore-case match pattern must be a string",
        ),
        (
            json!({"k": [{"equals-ignore-case": {"prefix": "x"}}]}),
            "equals-ignore-case match pattern must be a string",
        ),
        (
            json!({"k": [{"wildcard": 123}]}),
            "wildcard match pattern must be a string",
        ),
        (
            json!({"k": [{"wildcard": ["a*"]}]}),
            "wildcard match pattern must be a string",
        ),
        (
            json!({"k": [{"wildcard": "arn:aws:events:us-east-1:**:event-bus/*"}]}),
            "Consecutive wildcard characters at pos 26",
        ),
        (
            json!({"k": [{"wildcard": "*:*:*:*:*:event-bus/*"}]}),
            "Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences after a wildcard character",
        ),
        (
            json!({"k": [{"anything-but": null}]}),
            "Value of anything-but must be an array or single string/number value.",
        ),
        (
            json!({"k": [{"anything-but": ["a", null]}]}),
            "Inside anything but list, start|null|boolean is not supported.",
        ),
        (
            json!({"k": [{"anything-but": {"prefix": ""}}]}),
            "Null prefix/suffix not allowed",
        ),
        (
            json!({"k": [{"anything-but": {"suffix": ""}}]}),
            "Null prefix/suffix not allowed",
        ),
        (
            json!({"k": [{"anything-but": {"prefix": 123}}]}),
            "prefix/suffix match pattern must be a string",
        ),
        (
            json!({"k": [{"anything-but": {"suffix": [null, ".txt"]}}]}),
            "prefix/suffix match pattern must be a string",
        ),
        (
            json!({"k": [{"anything-but": {"prefix": {"equals-ignore-case": "f"}}}]}),
            "Value of anything-but must be an array or single string/number value.",
        ),
        (
            json!({"k": [{"anything-but": {"equals-ignore-case": 123}}]}),
            "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.",
        ),
        (
            json!({"k": [{"anything-but": {"equals-ignore-case": [123, 456]}}]}),
            "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.",
        ),
        (
            json!({"k": [{"anything-but": {"wildcard": [123, "*/dir/*"]}}]}),
            "wildcard match pattern must be a string",
        ),
        (
            json!({"k": [{"anything-but": {"exists": true}}]}),
            "Unsupported anything-but pattern: exists",
        ),
        (
            json!({"k": [{"numeric": 10}]}),
            "Value of numeric must be an array.",
        ),
        (
            json!({"k": [{"numeric": []}]}),
            "Invalid member in numeric match: ]",
        ),
        (
            json!({"k": [{"numeric": [1, "<="]}]}),
            "Invalid member in numeric match: 1",
        ),
        (
            json!({"k": [{"numeric": ["operator", 1]}]}),
            "Unrecognized numeric range operator: operator",
        ),
        (
            json!({"k": [{"numeric": ["=", "a"]}]}),
            "Value of equals must be numeric",
        ),
        (
            json!({"k": [{"numeric": [">=", "a"]}]}),
            "Value of >= must be numeric",
        ),
        (
            json!({"k": [{"numeric": [">", 0, "<"]}]}),
            "Value of < must be numeric",
        ),
        (
            json!({"k": [{"numeric": [">", 0, ">", 0]}]}),
            "Bad numeric range operator: >",
        ),
        (
            json!({"k": [{"numeric": [">", 0, "test", 0]}]}),
            "Bad numeric range operator: test",
        ),
        (
            json!({"k": [{"numeric": [">", 0, 30, 0]}]}),
            "Bad value in numeric range: 30",
        ),
        (
            json!({"k": [{"numeric": ["<", 0, "<", 10]}]}),
            "Too many elements in numeric expression",
        ),
        (
            json!({"k": [{"numeric": [">", 10, "<", 5]}]}),
            "Bottom must be less than top",
        ),
        (
            json!({"k": [{"numeric": [">", 0, "<", 10, "=", 5]}]}),
            "Too many terms in numeric range expression",
        ),
        (
            json!({"k": [{"cidr": "bad-filter"}]}),
            "Malformed CIDR, one '/' required",
        ),
        (
            json!({"k": [{"cidr": "bad-/64filter"}]}),
            "Malformed CIDR, mask bits must be an integer",
        ),
        (
            json!({"k": [{"cidr": "xx.11.xx/8"}]}),
            "Nonstandard IP address: xx.11.xx",
        ),
        (
            json!({"k": [{"cidr": "xxxx:db8:1234:1a00::/64"}]}),
            "Nonstandard IP address: xxxx:db8:1234:1a00::",
        ),
        (
            json!({"k": [{"cidr": ["bad-type"]}]}),
            "prefix match pattern must be a string",
        ),
        (json!(["not", "an", "object"]), "Filter is not an object"),
    ];
    for (pattern, expected) in cases {
        assert_eq!(
            reason(pattern, Dialect::EventBridge),
            *expected,
            "{pattern}"
        );
    }
}

#[test]
fn eventbridge_message_wraps_the_reason() {
    let e = Pattern::parse(r#"{"resources": []}"#, Dialect::EventBridge).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Event pattern is not valid. Reason: Empty arrays are not allowed"
    );
    assert_eq!(e.reason(), &Reason::EmptyArray);
    let e = Pattern::parse("{'bad': 'quotation'}", Dialect::EventBridge).unwrap_err();
    assert!(matches!(e.reason(), Reason::InvalidJson(_)), "{e}");
}

#[test]
fn structure_is_checked_before_expressions() {
    // AWS reports the empty array even though an invalid expression comes first.
    let pattern = json!({"a": [{"prefix": 1}], "b": []});
    assert_eq!(
        reason(&pattern, Dialect::EventBridge),
        "Empty arrays are not allowed"
    );
}

#[test]
fn sns_reasons_and_messages() {
    let cases: &[(Value, &str)] = &[
        (
            json!({"k1": ["v"], "k2": ["v"], "k3": ["v"], "k4": ["v"], "k5": ["v"], "k6": ["v"]}),
            "Filter policy can not have more than 5 keys",
        ),
        (
            json!({"key": (0..151).map(|i| format!("v{i}")).collect::<Vec<_>>()}),
            "Filter policy is too complex",
        ),
        (
            json!({"key1": (0..100).collect::<Vec<_>>(), "key2": (0..51).collect::<Vec<_>>()}),
            "Filter policy is too complex",
        ),
        (
            json!({"source": ["a", "b", "c", "d"], "$or": [
                {"metricName": [1, 2, 3, 4, 5, 6]},
                {"metricType": [1, 2, 3, 4], "$or": [{"metricId": [1, 2, 3, 4]}, {"spaceId": [1, 2, 3, 4]}]}
            ]}),
            "Filter policy is too complex",
        ),
        (
            json!({"key": {"suffix": "value"}}),
            "\"suffix\" must be an object or an array",
        ),
        (
            json!({"key": {"nested": ["value"]}}),
            "Filter policy scope MessageAttributes does not support nested filter policy",
        ),
        (
            json!({"key": [{"wildcard": "a*"}]}),
            "Unrecognized match type wildcard",
        ),
        (
            json!({"key": [{"anything-but": {"suffix": "x"}}]}),
            "Unsupported anything-but pattern: suffix",
        ),
        (
            json!({"key": [{"anything-but": {"wrong-operator": "x"}}]}),
            "Unsupported anything-but pattern: wrong-operator",
        ),
        (
            json!({"key": [{"prefix": {"equals-ignore-case": "x"}}]}),
            "prefix match pattern must be a string",
        ),
        (
            json!({"key": [{"cidr": "bad-filter"}]}),
            "Nonstandard IP address: bad-filter",
        ),
        (
            json!({"key": [{"numeric": [">", 0, "<=", 5, "<", 3]}]}),
            "Too many terms in numeric range expression",
        ),
    ];
    for (pattern, expected) in cases {
        assert_eq!(
            reason(pattern, Dialect::SnsAttributes),
            *expected,
            "{pattern}"
        );
    }

    let e = Pattern::from_value(&json!({"key": []}), Dialect::SnsAttributes).unwrap_err();
    assert_eq!(
        e.sns_message(SnsAction::Subscribe),
        "Invalid parameter: Attributes Reason: FilterPolicy: Empty arrays are not allowed"
    );
    assert_eq!(
        e.to_string(),
        "Invalid parameter: FilterPolicy: Empty arrays are not allowed"
    );
    let e = Pattern::from_value(&json!({"k": {"n": ["v"]}}), Dialect::SnsAttributes).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy"
    );
}

#[test]
fn sns_limits_at_the_edge() {
    // 150 combinations and 5 keys are allowed.
    let policy = json!({"source": ["a", "b", "c"], "$or": [
        {"metricName": [1, 2, 3, 4, 5, 6]},
        {"metricType": [1, 2, 3, 4], "$or": [{"metricId": [1, 2, 3, 4]}, {"spaceId": [1, 2, 3, 4, 5, 6, 7]}]}
    ]});
    Pattern::from_value(&policy, Dialect::SnsAttributes).expect("150 is the limit");
    let five = json!({"k1": ["v"], "k2": ["v"], "k3": ["v"], "k4": ["v"], "k5": ["v"]});
    Pattern::from_value(&five, Dialect::SnsAttributes).expect("five keys");
    // Only top-level keys count in the body scope.
    let nested =
        json!({"a": ["v"], "b": ["v"], "c": ["v"], "d": ["v"], "e": {"f": ["v"], "g": ["v"]}});
    Pattern::from_value(&nested, Dialect::SnsBody).expect("nested keys do not count");
    // The body scope nests; combinations multiply by depth (4 x 3 x 2 x 3 = 72).
    let body = json!({"key_a": {"key_b": {"key_c": ["1", "2", "3", "4"]}}, "key_d": {"key_e": ["1", "2", "3"]}});
    Pattern::from_value(&body, Dialect::SnsBody).expect("72 combinations");
}

#[test]
fn event_source_mappings_refuse_what_lambda_does_not_document() {
    for pattern in [
        json!({"k": [{"wildcard": "a*"}]}),
        json!({"k": [{"cidr": "10.0.0.0/8"}]}),
        json!({"k": [{"anything-but": {"prefix": "a"}}]}),
    ] {
        let e = Pattern::from_value(&pattern, Dialect::EventSourceMapping).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Invalid filter pattern definition.",
            "{pattern}"
        );
    }
}

#[test]
fn patterns_deeper_than_json_allows_are_refused() {
    let deep = format!("{}{}", "{\"a\":".repeat(200), "}".repeat(200));
    let e = Pattern::parse(&deep, Dialect::EventBridge).unwrap_err();
    assert!(e.reason().to_string().contains("recursion limit"), "{e}");
}
