//! The Kinesis API's route: AWS JSON 1.1 (`X-Amz-Target: Kinesis_20131202.<Operation>`) over
//! the generated [`Kinesis`] trait; errors as `{"__type", "message"}` with AWS's statuses.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;

use crate::error::ApiError;
use crate::http::AMZ_JSON_1_1;
use crate::json_routes;
use crate::kinesis::model::TARGET_PREFIX;
use crate::kinesis::{Kinesis, Operation, Request as KinesisRequest, dispatch};

/// The largest request body: PutRecords' 500 records of up to 10 MiB are capped by AWS at
/// 10 MiB of data per call, base64 (4/3) and JSON around it.
pub const MAX_BODY_BYTES: usize = 15 * 1024 * 1024;

/// The Kinesis route over `backend`.
pub fn router<B: Kinesis>(backend: Arc<B>) -> Router {
    Router::new().fallback(serve::<B>).with_state(backend)
}

async fn serve<B: Kinesis>(State(backend): State<Arc<B>>, request: Request) -> Response {
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
/// Step Functions' `aws-sdk:kinesis:*`): the output as JSON.
pub async fn handle<B: Kinesis>(
    backend: &B,
    operation: &str,
    body: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let operation = Operation::from_name(operation)
        .ok_or_else(|| ApiError::unknown_operation(&format!("{TARGET_PREFIX}.{operation}")))?;
    let value = json_routes::members(operation.input_shape(), body)?;
    let request = KinesisRequest::from_value(operation, value)
        .map_err(|e| ApiError::serialization(e.to_string()))?;
    dispatch(backend, request).await
}
