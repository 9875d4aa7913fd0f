//! The EventBridge API's route: AWS JSON 1.1 (`X-Amz-Target: AWSEvents.<Operation>`) over
//! the generated [`EventBridge`] trait; errors as `{"__type", "message"}` with AWS's statuses.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;

use crate::error::ApiError;
use crate::events::model::TARGET_PREFIX;
use crate::events::{EventBridge, Operation, Request as EventsRequest, dispatch};
use crate::http::AMZ_JSON_1_1;
use crate::json_routes;

/// The largest request body: PutEvents carries at most 256 KiB of entries (counted AWS's way),
/// which JSON escaping may double, with room for the rest of the request.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The EventBridge route over `backend`.
pub fn router<B: EventBridge>(backend: Arc<B>) -> Router {
    Router::new().fallback(serve::<B>).with_state(backend)
}

async fn serve<B: EventBridge>(State(backend): State<Arc<B>>, request: Request) -> Response {
    json_routes::serve(
        request,
        TARGET_PREFIX,
        AMZ_JSON_1_1,
        MAX_BODY_BYTES,
        |operation, body| async move { handle(&*backend, &operation, &body).await },
    )
    .await
}

/// Runs `operation` (by name) on `backend` with its members as a JSON body (the wire, and
/// Step Functions' `aws-sdk:eventbridge:*`): the output as JSON.
pub async fn handle<B: EventBridge>(
    backend: &B,
    operation: &str,
    body: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let operation = Operation::from_name(operation)
        .ok_or_else(|| ApiError::unknown_operation(&format!("{TARGET_PREFIX}.{operation}")))?;
    let value = json_routes::members(operation.input_shape(), body)?;
    let request = EventsRequest::from_value(operation, value)
        .map_err(|e| ApiError::serialization(e.to_string()))?;
    dispatch(backend, request).await
}
