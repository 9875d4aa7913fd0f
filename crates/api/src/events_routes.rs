//! The EventBridge API's route: AWS JSON 1.1 (`X-Amz-Target: AWSEvents.<Operation>`) over
//! the generated [`EventBridge`] trait; errors as `{"__type", "message"}` with AWS's statuses.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::ApiError;
use crate::events::model::TARGET_PREFIX;
use crate::events::{EventBridge, Operation, Request as EventsRequest, dispatch};
use crate::http::{ERROR_TYPE_HEADER, REQUEST_ID_HEADER, TARGET_HEADER, insert_header};
use crate::{request_id, rest, shape};

pub const AMZ_JSON_1_1: &str = "application/x-amz-json-1.1";

/// The largest request body: PutEvents carries at most 256 KiB of entries (counted AWS's way),
/// which JSON escaping may double, with room for the rest of the request.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The EventBridge route over `backend`.
pub fn router<B: EventBridge>(backend: Arc<B>) -> Router {
    Router::new().fallback(serve::<B>).with_state(backend)
}

async fn serve<B: EventBridge>(State(backend): State<Arc<B>>, request: Request) -> Response {
    let request_id = request_id::current();
    let (parts, body) = request.into_parts();
    let target = parts
        .headers
        .get(TARGET_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let result = match rest::read_body(body, MAX_BODY_BYTES).await {
        Ok(body) => match target
            .strip_prefix(TARGET_PREFIX)
            .and_then(|rest| rest.strip_prefix('.'))
        {
            Some(operation) => handle(&*backend, operation, &body).await,
            None => Err(ApiError::unknown_operation(&target)),
        },
        Err(error) => Err(error),
    };
    match result {
        Ok(body) => {
            let mut response = (StatusCode::OK, body).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(AMZ_JSON_1_1));
            insert_header(&mut response, REQUEST_ID_HEADER, &request_id);
            response
        }
        Err(error) => {
            let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
            let mut response = (status, error.to_body()).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(AMZ_JSON_1_1));
            insert_header(&mut response, ERROR_TYPE_HEADER, &error.kind);
            insert_header(&mut response, REQUEST_ID_HEADER, &request_id);
            response
        }
    }
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
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError::serialization(e.to_string()))?
    };
    let violations = shape::violations_with(operation.input_shape(), &value, true)?;
    if !violations.is_empty() {
        return Err(ApiError::violations(&violations));
    }
    let request = EventsRequest::from_value(operation, value)
        .map_err(|e| ApiError::serialization(e.to_string()))?;
    dispatch(backend, request).await
}
