//! SNS: message attributes as a filter policy sees them, and the body scope.

use serde_json::json;
use sluice_patterns::{Dialect, Pattern, message_attributes, parse_body};

fn attributes_match(policy: &str, attributes: serde_json::Value) -> bool {
    let pattern = Pattern::parse(policy, Dialect::SnsAttributes).expect("valid policy");
    pattern.matches(&message_attributes(&attributes))
}

#[test]
fn attribute_types() {
    let attrs = json!({
        "store": {"DataType": "String", "StringValue": "example_corp"},
        "price_usd": {"DataType": "Number", "StringValue": "210.75"},
        "sizes": {"DataType": "String.Array", "StringValue": "[\"small\", \"large\", 3]"},
        "blob": {"DataType": "Binary", "BinaryValue": "AAE="},
        "custom": {"DataType": "Number.float", "StringValue": "5"},
        "my.dotted": {"DataType": "String", "StringValue": "x"}
    });
    assert_eq!(
        message_attributes(&attrs),
        json!({"store": "example_corp", "price_usd": 210.75, "sizes": ["small", "large", 3],
               "custom": 5, "my.dotted": "x"})
    );
    assert!(attributes_match(
        r#"{"store": ["example_corp"]}"#,
        attrs.clone()
    ));
    assert!(attributes_match(
        r#"{"price_usd": [{"numeric": [">=", 100]}]}"#,
        attrs.clone()
    ));
    assert!(!attributes_match(
        r#"{"price_usd": ["210.75"]}"#,
        attrs.clone()
    ));
    assert!(attributes_match(r#"{"sizes": ["large"]}"#, attrs.clone()));
    assert!(attributes_match(r#"{"sizes": [3]}"#, attrs.clone()));
    assert!(attributes_match(
        r#"{"blob": [{"exists": false}]}"#,
        attrs.clone()
    ));
    assert!(attributes_match(r#"{"my.dotted": ["x"]}"#, attrs.clone()));
    assert!(attributes_match(r#"{"custom": [5]}"#, attrs.clone()));
    assert!(!attributes_match(r#"{"missing": ["x"]}"#, attrs.clone()));
    assert!(attributes_match(
        r#"{"store": [{"anything-but": {"prefix": "other"}}]}"#,
        attrs.clone()
    ));
    assert!(attributes_match(
        r#"{"store": [{"anything-but": ["x"]}], "price_usd": [{"numeric": [">", 100, "<=", 300]}]}"#,
        attrs
    ));
    // The notification form.
    assert!(attributes_match(
        r#"{"ip": [{"cidr": "10.0.0.0/8"}]}"#,
        json!({"ip": {"Type": "String", "Value": "10.1.2.3"}})
    ));
    // SNS takes a single address as a CIDR.
    assert!(attributes_match(
        r#"{"ip": [{"cidr": "10.1.2.3"}]}"#,
        json!({"ip": {"DataType": "String", "StringValue": "10.1.2.3"}})
    ));
}

#[test]
fn body_scope() {
    let policy = Pattern::parse(
        r#"{"store": ["example_corp"], "customer_interests": {"sport": [{"prefix": "foot"}]}}"#,
        Dialect::SnsBody,
    )
    .expect("valid");
    let body =
        parse_body(r#"{"store": "example_corp", "customer_interests": {"sport": "football"}}"#)
            .expect("an object");
    assert!(policy.matches(&body));
    assert!(parse_body("not json").is_none());
    assert!(parse_body("[1, 2]").is_none());
    // A non-object event matches nothing.
    assert!(!policy.matches(&json!("example_corp")));
}
