//! The SQS API's routes, both wires over the generated [`Sqs`] trait:
//! - AWS JSON 1.0 (`X-Amz-Target: AmazonSQS.<Operation>`, what current SDKs send): errors as
//!   `{"__type", "message"}` plus `x-amzn-query-error: <query code>;Sender`, since SQS is
//!   `awsQueryCompatible` (clients report `AWS.SimpleQueueService.NonExistentQueue`);
//! - the query protocol (`Action=SendMessage&...` in a form body or the query string, what
//!   older SDKs send), answered in XML; a request sent to a queue's URL without a `QueueUrl`
//!   parameter is for that queue.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::ApiError;
use crate::http::{
    AMZ_JSON_1_0, ERROR_TYPE_HEADER, REQUEST_ID_HEADER, TARGET_HEADER, insert_header,
};
use crate::sqs::model::{TARGET_PREFIX, XML_NAMESPACE, errors};
use crate::sqs::{Operation, Request as SqsRequest, Sqs, dispatch};
use crate::{query, request_id, rest, shape};

/// The largest request body: ten messages of the 1 MiB limit, as JSON or form-encoded.
pub const MAX_BODY_BYTES: usize = 12 * 1024 * 1024;

/// The SQS routes over `backend`.
pub fn router<B: Sqs>(backend: Arc<B>) -> Router {
    Router::new().fallback(serve::<B>).with_state(backend)
}

async fn serve<B: Sqs>(State(backend): State<Arc<B>>, request: Request) -> Response {
    let request_id = request_id::current();
    let (parts, body) = request.into_parts();
    let target = parts
        .headers
        .get(TARGET_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = match rest::read_body(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(error) if target.is_some() => return json_error(&error, &request_id),
        Err(error) => return query::response(Err(error), errors::ALL, XML_NAMESPACE, &request_id),
    };
    match target {
        Some(target) => match serve_json(&*backend, &target, &body).await {
            Ok(body) => {
                let mut response = (StatusCode::OK, body).into_response();
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(AMZ_JSON_1_0));
                insert_header(&mut response, REQUEST_ID_HEADER, &request_id);
                response
            }
            Err(error) => json_error(&error, &request_id),
        },
        None => {
            let result = serve_query(
                &*backend,
                parts.uri.path(),
                parts.uri.query(),
                &body,
                &request_id,
            )
            .await;
            query::response(result, errors::ALL, XML_NAMESPACE, &request_id)
        }
    }
}

async fn serve_json<B: Sqs>(backend: &B, target: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let operation = target
        .strip_prefix(TARGET_PREFIX)
        .and_then(|rest| rest.strip_prefix('.'))
        .ok_or_else(|| ApiError::unknown_operation(target))?;
    handle(backend, operation, body).await
}

/// Runs `operation` (by name) on `backend` with its members as a JSON body, as the JSON wire
/// and Step Functions' SDK integrations (`aws-sdk:sqs:sendMessage`) send them: the output as
/// JSON.
pub async fn handle<B: Sqs>(
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
    let request = decode(operation, value)?;
    dispatch(backend, request).await
}

async fn serve_query<B: Sqs>(
    backend: &B,
    path: &str,
    query_string: Option<&str>,
    body: &[u8],
    request_id: &str,
) -> Result<Vec<u8>, ApiError> {
    let params = query::params(query_string, body);
    let action = query::action(&params).unwrap_or_default().to_owned();
    let operation = Operation::from_name(&action).ok_or_else(|| {
        ApiError::new(
            "InvalidAction",
            format!("The action {action} is not valid for this web service."),
        )
    })?;
    let mut members = query::decode(operation.input_shape(), &params)?;
    // Older SDKs send a queue's requests to its URL (`/<account>/<name>`).
    if !members.contains_key("QueueUrl") && path.trim_matches('/').contains('/') {
        members.insert("QueueUrl".into(), Value::String(path.to_owned()));
    }
    let request = decode(operation, Value::Object(members))?;
    let output = dispatch(backend, request).await?;
    let value: Value = if output.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&output)
            .map_err(|e| ApiError::internal(format!("unreadable output: {e}")))?
    };
    query::encode(
        operation.name(),
        operation.result_wrapper(),
        XML_NAMESPACE,
        operation.output_shape(),
        &value,
        request_id,
    )
}

/// The model's constraints, then the typed request. Enum values are SQS's to check, as it
/// does: unknown attribute names are ignored by ReceiveMessage and refused by
/// GetQueueAttributes with `InvalidAttributeName`.
fn decode(operation: Operation, value: Value) -> Result<SqsRequest, ApiError> {
    let violations = shape::violations_with(operation.input_shape(), &value, false)?;
    if !violations.is_empty() {
        return Err(ApiError::violations(&violations));
    }
    SqsRequest::from_value(operation, value).map_err(|e| ApiError::serialization(e.to_string()))
}

fn json_error(error: &ApiError, request_id: &str) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, error.to_body()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(AMZ_JSON_1_0));
    query::insert_query_error_header(headers, error, errors::ALL);
    insert_header(&mut response, ERROR_TYPE_HEADER, &error.kind);
    insert_header(&mut response, REQUEST_ID_HEADER, request_id);
    response
}
