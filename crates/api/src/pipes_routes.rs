//! The EventBridge Pipes API (REST JSON, `restJson1`) under `/v1/pipes` and `/tags/{arn}` on
//! the gateway's port: the operation whose binding matches the method and path, its members
//! decoded by [`crate::rest`] and checked against the model's constraints
//! ([`crate::shape`]), the generated [`dispatch`] to the [`Pipes`] backend, and the output or
//! the error placed back as Pipes sends them (`x-amzn-ErrorType`, `{"message": ...}`).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::ApiError;
use crate::pipes::{Operation, Pipes, dispatch, errors, operations};
use crate::{rest, shape};

/// The largest request body: a pipe's definition is small (templates up to 8 KiB).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The Pipes API's routes over `backend`: one fallback that routes by the model's bindings (a
/// path no operation serves answers an empty 404, which the gateway turns into its error).
pub fn router<B: Pipes>(backend: Arc<B>) -> Router {
    Router::new().fallback(serve::<B>).with_state(backend)
}

async fn serve<B: Pipes>(State(backend): State<Arc<B>>, request: Request) -> Response {
    let operations = Operation::ALL.iter().map(|op| (*op, op.binding()));
    let served = rest::serve_json(
        request,
        operations,
        Operation::input_shape,
        errors::ALL,
        MAX_BODY_BYTES,
        |error| error,
        |operation, members, body| async move {
            validate(operation, &members)?;
            let request = operations::Request::from_rest(operation, members, body)
                .map_err(|error| ApiError::serialization(error.to_string()))?;
            dispatch(&*backend, request).await
        },
    )
    .await;
    served.unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}

/// The model's constraints on `members`, as one `ValidationException` in AWS's words.
fn validate(operation: Operation, members: &Value) -> Result<(), ApiError> {
    shape::validate(operation.input_shape(), members)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_and_limits_are_validation_exceptions_in_aws_words() {
        let error = validate(
            Operation::CreatePipe,
            &json!({"Name": "bad name!", "Source": "arn:aws:sqs:us-east-1:000000000000:q",
                    "Target": "arn:aws:sqs:us-east-1:000000000000:t",
                    "RoleArn": "arn:aws:iam::000000000000:role/r"}),
        )
        .unwrap_err();
        assert_eq!(error.kind, "ValidationException");
        assert!(
            error
                .message
                .contains("Value 'bad name!' at 'name' failed to satisfy constraint"),
            "{}",
            error.message
        );
        let error = validate(
            Operation::CreatePipe,
            &json!({"Name": "p", "Source": "arn:aws:sqs:us-east-1:000000000000:q",
                    "Target": "arn:aws:sqs:us-east-1:000000000000:t"}),
        )
        .unwrap_err();
        assert!(
            error.message.contains(
                "Value null at 'roleArn' failed to satisfy constraint: Member must not be null"
            ),
            "{}",
            error.message
        );
    }
}
