//! The Step Functions API (`X-Amz-Target: AWSStepFunctions.<Operation>`, AWS JSON 1.0).
//!
//! [`model`] and [`operations`] are generated from AWS's service model by
//! `crates/api/codegen/generate.py`; the rest is hand-written: [`decode`] (body → typed,
//! validated [`Request`]), [`handle`] (decode, then run on a [`StepFunctions`] backend), and the
//! helpers a backend needs to answer as AWS does: [`arn`], [`name`], [`pagination`].

pub mod arn;
pub mod model;
pub mod name;
pub mod operations;
pub mod pagination;

pub use arn::{Arn, Resource, ResourceType, Scope, StatesArns};
pub use model::{TARGET_PREFIX, errors, shapes};
pub use name::validate_name;
pub use operations::{Operation, Request, StepFunctions, dispatch};
pub use pagination::Page;

use serde_json::Value;

use crate::error::ApiError;
use crate::shape;

/// Decodes the body of `AWSStepFunctions.<operation>`: JSON syntax and member types
/// (`SerializationException`), then the model's constraints (`ValidationException`), then the
/// typed input. An unknown operation is `UnknownOperationException`. An empty body is `{}`.
pub fn decode(operation: &str, body: &[u8]) -> Result<Request, ApiError> {
    let operation = Operation::from_name(operation)
        .ok_or_else(|| ApiError::unknown_operation(&format!("{TARGET_PREFIX}.{operation}")))?;
    decode_operation(operation, body)
}

/// [`decode`] for a known operation.
pub fn decode_operation(operation: Operation, body: &[u8]) -> Result<Request, ApiError> {
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_slice(body).map_err(|error| ApiError::serialization(error.to_string()))?
    };
    shape::validate(operation.input_shape(), &value)?;
    Request::from_value(operation, value)
        .map_err(|error| ApiError::serialization(error.to_string()))
}

/// Decodes a request for `operation` and runs it on `backend`: the response body, or the
/// error to send.
pub async fn handle<B: StepFunctions>(
    backend: &B,
    operation: &str,
    body: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let request = decode(operation, body)?;
    dispatch(backend, request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_typed_inputs() {
        let body = br#"{"name":"m","definition":"{}","roleArn":"arn:aws:iam::123456789012:role/r","type":"EXPRESS","tags":[{"key":"k","value":"v"}]}"#;
        let Request::CreateStateMachine(input) = decode("CreateStateMachine", body).unwrap() else {
            panic!("wrong request");
        };
        assert_eq!(input.name, "m");
        assert_eq!(input.r#type, Some(model::StateMachineType::Express));
        assert_eq!(input.tags.unwrap()[0].key.as_deref(), Some("k"));
        assert_eq!(
            decode("ListStateMachines", b"").unwrap(),
            Request::ListStateMachines(model::ListStateMachinesInput::default())
        );
    }

    #[test]
    fn decode_errors_have_aws_names() {
        let kind = |op: &str, body: &[u8]| decode(op, body).unwrap_err().kind;
        assert_eq!(kind("Nope", b"{}"), "UnknownOperationException");
        assert_eq!(
            kind("createStateMachine", b"{}"),
            "UnknownOperationException"
        );
        assert_eq!(kind("ListStateMachines", b"{"), "SerializationException");
        assert_eq!(kind("ListStateMachines", b"[]"), "SerializationException");
        assert_eq!(
            kind("ListStateMachines", br#"{"maxResults":"x"}"#),
            "SerializationException"
        );
        assert_eq!(kind("DescribeStateMachine", b"{}"), "ValidationException");
        assert_eq!(
            kind("ListExecutions", br#"{"statusFilter":"running"}"#),
            "ValidationException"
        );
    }

    #[test]
    fn every_operation_decodes_its_minimal_input() {
        // Required members filled with a valid value of their shape.
        fn minimal(shape: &shape::Shape) -> Value {
            match &shape.kind {
                shape::ShapeKind::Structure { members } => Value::Object(
                    members
                        .iter()
                        .filter(|m| m.required)
                        .map(|m| (m.name.to_string(), minimal(m.shape)))
                        .collect(),
                ),
                shape::ShapeKind::String { values, .. } if !values.is_empty() => {
                    Value::from(values[0])
                }
                shape::ShapeKind::String { .. } | shape::ShapeKind::Blob { .. } => Value::from("a"),
                shape::ShapeKind::Integer { .. } | shape::ShapeKind::Long { .. } => Value::from(1),
                shape::ShapeKind::Float { .. } | shape::ShapeKind::Timestamp => Value::from(1.0),
                shape::ShapeKind::Boolean => Value::from(true),
                shape::ShapeKind::List { member, .. } => Value::Array(vec![minimal(member)]),
                shape::ShapeKind::Map { .. } => Value::Object(Default::default()),
            }
        }
        for &operation in Operation::ALL {
            let body = serde_json::to_vec(&minimal(operation.input_shape())).unwrap();
            let request = decode_operation(operation, &body)
                .unwrap_or_else(|e| panic!("{}: {e}", operation.name()));
            assert_eq!(request.operation(), operation);
            assert_eq!(Operation::from_name(operation.name()), Some(operation));
        }
    }

    #[test]
    fn generated_lists_match_the_model() {
        assert_eq!(Operation::ALL.len(), 37);
        assert!(errors::ALL.contains(&"StateMachineDoesNotExist"));
        assert!(errors::ALL.contains(&"ValidationException"));
        assert!(
            Operation::CreateStateMachine
                .errors()
                .contains(&errors::INVALID_NAME)
        );
    }
}
