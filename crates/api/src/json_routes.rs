//! What the AWS JSON (1.0 and 1.1) services' routes share: a request's operation from
//! `X-Amz-Target: <prefix>.<Operation>`, its body read up to a limit, parsed and checked
//! against the operation's input shape, and the answer or error with AWS's content type,
//! `{"__type", "message"}` body, error-type and request-id headers.

use std::future::Future;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::ApiError;
use crate::http::{ERROR_TYPE_HEADER, REQUEST_ID_HEADER, TARGET_HEADER, insert_header};
use crate::shape::Shape;
use crate::{request_id, rest, shape};

/// Serves `request` for a service whose targets start with `prefix`: `handle` gets the
/// operation's name and the body, and its answer (or error) goes back as `content_type`.
pub async fn serve<F, Fut>(
    request: Request,
    prefix: &str,
    content_type: &'static str,
    max_body_bytes: usize,
    handle: F,
) -> Response
where
    F: FnOnce(String, Vec<u8>) -> Fut,
    Fut: Future<Output = Result<Vec<u8>, ApiError>>,
{
    let request_id = request_id::current();
    let (parts, body) = request.into_parts();
    let target = parts
        .headers
        .get(TARGET_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let result = match rest::read_body(body, max_body_bytes).await {
        Ok(body) => match target
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('.'))
        {
            Some(operation) => handle(operation.to_owned(), body.to_vec()).await,
            None => Err(ApiError::unknown_operation(&target)),
        },
        Err(error) => Err(error),
    };
    let mut response = match &result {
        Ok(_) => StatusCode::OK.into_response(),
        Err(error) => StatusCode::from_u16(error.status)
            .unwrap_or(StatusCode::BAD_REQUEST)
            .into_response(),
    };
    let body = match result {
        Ok(body) => body,
        Err(error) => {
            insert_header(&mut response, ERROR_TYPE_HEADER, &error.kind);
            error.to_body()
        }
    };
    *response.body_mut() = body.into();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    insert_header(&mut response, REQUEST_ID_HEADER, &request_id);
    response
}

/// A request body as the JSON value of the operation's members (an empty body is `{}`),
/// checked against its input shape: AWS's `SerializationException` or `ValidationException`
/// otherwise.
pub fn members(input: &'static Shape, body: &[u8]) -> Result<Value, ApiError> {
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError::serialization(e.to_string()))?
    };
    shape::validate(input, &value)?;
    Ok(value)
}
