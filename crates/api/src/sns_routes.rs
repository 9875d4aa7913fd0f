//! The SNS API's routes: the query protocol (`Action=Publish&...` in a form body or, for the
//! links SNS puts in its messages — SubscribeURL, UnsubscribeURL — in the query string),
//! answered in XML over the generated [`Sns`] trait.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::Value;

use crate::error::ApiError;
use crate::sns::model::{XML_NAMESPACE, errors};
use crate::sns::{Operation, Request as SnsRequest, Sns, dispatch};
use crate::{query, request_id, rest, shape};

/// The largest request body: a batch of ten messages of 256 KiB, form-encoded.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The SNS routes over `backend`.
pub fn router<B: Sns>(backend: Arc<B>) -> Router {
    Router::new().fallback(serve::<B>).with_state(backend)
}

async fn serve<B: Sns>(State(backend): State<Arc<B>>, request: Request) -> Response {
    let request_id = request_id::current();
    let (parts, body) = request.into_parts();
    let result = match rest::read_body(body, MAX_BODY_BYTES).await {
        Ok(body) => handle_query(&*backend, parts.uri.query(), &body, &request_id).await,
        Err(error) => Err(error),
    };
    query::response(result, errors::ALL, XML_NAMESPACE, &request_id)
}

async fn handle_query<B: Sns>(
    backend: &B,
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
    let members = query::decode(operation.input_shape(), &params)?;
    let output = dispatch(backend, decode(operation, Value::Object(members))?).await?;
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

/// Runs `operation` (by name) with its members as a JSON body, as Step Functions' SDK
/// integrations (`aws-sdk:sns:publish`) send them: the output as JSON.
pub async fn handle<B: Sns>(
    backend: &B,
    operation: &str,
    body: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let operation = Operation::from_name(operation)
        .ok_or_else(|| ApiError::unknown_operation(&format!("SNS.{operation}")))?;
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError::serialization(e.to_string()))?
    };
    dispatch(backend, decode(operation, value)?).await
}

/// The model's constraints, then the typed request.
fn decode(operation: Operation, value: Value) -> Result<SnsRequest, ApiError> {
    let violations = shape::violations_with(operation.input_shape(), &value, false)?;
    if !violations.is_empty() {
        // SNS's query code for a model violation.
        let mut error = ApiError::violations(&violations);
        error.kind = "ValidationError".into();
        return Err(error);
    }
    SnsRequest::from_value(operation, value).map_err(|e| ApiError::serialization(e.to_string()))
}
