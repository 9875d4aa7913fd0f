//! The request decoder never panics: arbitrary bytes and targets, and arbitrary JSON in
//! every member of every operation, give a typed request or one of the protocol's errors.

use proptest::prelude::*;
use serde_json::Value;
use sluice_api::sfn::{self, Operation};
use sluice_api::shape::ShapeKind;

const ERROR_KINDS: &[&str] = &[
    "UnknownOperationException",
    "SerializationException",
    "ValidationException",
];

fn operation_name() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(Operation::ALL).prop_map(|op| op.name().to_string()),
        "[A-Za-z.]{0,24}",
        any::<String>(),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        Just(Value::from("STANDARD")),
        Just(Value::from(
            "arn:aws:states:us-east-1:123456789012:stateMachine:m"
        )),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec(("[a-zA-Z]{1,8}", inner), 0..4)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

fn member_names(operation: Operation) -> Vec<&'static str> {
    match &operation.input_shape().kind {
        ShapeKind::Structure { members } => members.iter().map(|m| m.name).collect(),
        _ => Vec::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(operation in operation_name(), body in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Err(error) = sfn::decode(&operation, &body) {
            prop_assert!(ERROR_KINDS.contains(&error.kind.as_str()), "{error}");
            prop_assert_eq!(error.status, 400);
        }
    }

    #[test]
    fn arbitrary_members_never_panic(
        operation in proptest::sample::select(Operation::ALL),
        values in proptest::collection::vec(json_value(), 0..6),
        picks in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let names = member_names(operation);
        let mut object = serde_json::Map::new();
        for (value, pick) in values.into_iter().zip(picks) {
            if !names.is_empty() {
                object.insert(pick.get(&names).to_string(), value);
            }
        }
        let body = serde_json::to_vec(&Value::Object(object)).unwrap();
        match sfn::decode_operation(operation, &body) {
            Ok(request) => prop_assert_eq!(request.operation(), operation),
            Err(error) => {
                prop_assert!(ERROR_KINDS.contains(&error.kind.as_str()), "{error}");
                prop_assert!(!error.message.is_empty());
            }
        }
    }
}
