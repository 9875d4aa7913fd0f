//! The EventBridge Scheduler API (REST JSON, `restJson1`) under `/schedules`,
//! `/schedule-groups` and `/tags/{arn}` on the gateway's port, served as
//! [`crate::pipes_routes`] serves Pipes: the operation whose binding matches the method and
//! path, its members decoded by [`crate::rest`] and checked against the model's constraints,
//! the generated [`dispatch`] to the [`Scheduler`] backend, the output or the error placed
//! back as the Scheduler sends them (`x-amzn-ErrorType`, `{"Message": ...}`).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::ApiError;
use crate::scheduler::{Operation, Scheduler, dispatch, errors, operations};
use crate::{rest, shape};

/// The largest request body: a schedule's definition is small (its Input up to 8 KiB).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The Scheduler API's routes over `backend`: one fallback that routes by the model's bindings (a
/// path no operation serves answers an empty 404, which the gateway turns into its error).
pub fn router<B: Scheduler>(backend: Arc<B>) -> Router {
    Router::new().fallback(serve::<B>).with_state(backend)
}

async fn serve<B: Scheduler>(State(backend): State<Arc<B>>, request: Request) -> Response {
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

/// The Scheduler's operations by name, members in the body as the SDKs name them (what
/// `aws-sdk:scheduler:*` Task states call): the output's members as JSON.
pub async fn handle<B: Scheduler>(
    backend: &B,
    operation: &str,
    body: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let operation =
        Operation::from_name(operation).ok_or_else(|| ApiError::unknown_operation(operation))?;
    let members = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError::serialization(e.to_string()))?
    };
    validate(operation, &members)?;
    let request = operations::Request::from_value(operation, members)
        .map_err(|error| ApiError::serialization(error.to_string()))?;
    let reply = dispatch(backend, request).await?;
    serde_json::to_vec(&reply.members).map_err(|e| ApiError::internal(e.to_string()))
}

/// The model's constraints on `members`, as one `ValidationException` in AWS's words.
fn validate(operation: Operation, members: &Value) -> Result<(), ApiError> {
    shape::validate(operation.input_shape(), members)
}
