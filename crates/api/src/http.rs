//! The HTTP front: one axum [`Router`] serving the AWS JSON protocols on `POST /`.
//!
//! A request names its service and operation in `X-Amz-Target: <Service>.<Operation>`;
//! [`router`] serves the `AWSStepFunctions` prefix (the [`crate::gateway`] routes each
//! service's requests to its own router). Signatures and credentials are accepted as they come
//! (`Authorization` is ignored). Every response carries `x-amzn-RequestId`; errors are
//! `{"__type": ..., "message": ...}` with `x-amzn-ErrorType`, never a panic: a panic in a
//! backend becomes `InternalFailure` (HTTP 500).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::request_id;
use crate::sfn::{self, StepFunctions};

/// The content type of AWS JSON 1.0 responses.
pub const AMZ_JSON_1_0: &str = "application/x-amz-json-1.0";
/// The content type of AWS JSON 1.1 (Kinesis, EventBridge).
pub const AMZ_JSON_1_1: &str = "application/x-amz-json-1.1";
/// The response header carrying the request id (AWS spells it `x-amzn-RequestId`; HTTP/1
/// header names are case-insensitive and hyper writes them in lower case).
pub const REQUEST_ID_HEADER: &str = "x-amzn-requestid";
/// The response header naming an error (`x-amzn-ErrorType`).
pub const ERROR_TYPE_HEADER: &str = "x-amzn-errortype";
/// The request header naming service and operation.
pub const TARGET_HEADER: &str = "x-amz-target";
/// [`TARGET_HEADER`] as a header name: parsed once rather than at every lookup.
pub(crate) static TARGET_HEADER_NAME: header::HeaderName =
    header::HeaderName::from_static(TARGET_HEADER);

/// Options of the HTTP front.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct Options {
    /// Largest request body accepted, in bytes (default 16 MiB). AWS takes definitions up to
    /// 1 MiB characters, which JSON escaping can grow several times; execution inputs are
    /// limited by the engine, not here.
    pub max_body_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 * 1024 * 1024,
        }
    }
}

struct Front<B> {
    step_functions: Arc<B>,
    options: Options,
}

/// The router of the AWS front with default [`Options`]: `POST /` (AWS JSON protocols) and
/// `GET /health`.
pub fn router<B: StepFunctions>(backend: Arc<B>) -> Router {
    router_with(backend, Options::default())
}

/// [`router`] with explicit options.
pub fn router_with<B: StepFunctions>(backend: Arc<B>, options: Options) -> Router {
    routes_with(backend, options).layer(axum::middleware::map_response(ensure_request_id))
}

/// [`router`]'s routes for the [`crate::gateway`], which gives every response its request id
/// itself: without [`router`]'s layer that does (a boxed service and future per request).
pub fn routes<B: StepFunctions>(backend: Arc<B>) -> Router {
    routes_with(backend, Options::default())
}

fn routes_with<B: StepFunctions>(backend: Arc<B>, options: Options) -> Router {
    let front = Arc::new(Front {
        step_functions: backend,
        options,
    });
    Router::new()
        .route("/", post(aws_json::<B>))
        .route("/health", get(health))
        .with_state(front)
}

async fn health() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    )
        .into_response()
}

/// Gives responses that bypassed [`respond`] (health, 404, 405) a request id too.
async fn ensure_request_id(mut response: Response) -> Response {
    if !response.headers().contains_key(REQUEST_ID_HEADER) {
        insert_header(&mut response, REQUEST_ID_HEADER, &request_id::uuid_v4());
    }
    response
}

async fn aws_json<B: StepFunctions>(
    State(front): State<Arc<Front<B>>>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let request_id = request_id::current();
    let target = headers
        .get(&TARGET_HEADER_NAME)
        .map(|value| value.to_str().unwrap_or("<non-ASCII>"))
        .unwrap_or("");
    let result = catch_unwind(serve_json(&front, target, headers, body)).await;
    let result = result.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(request_id, target, panic = %what, "request handler panicked");
        Err(ApiError::internal("Internal failure"))
    });
    match &result {
        Ok(_) => tracing::debug!(request_id, target, "request succeeded"),
        Err(error) if error.is_client_error() => {
            tracing::debug!(request_id, target, error = %error, "request failed")
        }
        Err(error) => tracing::warn!(request_id, target, error = %error, "request failed"),
    }
    respond(&request_id, result)
}

async fn serve_json<B: StepFunctions>(
    front: &Front<B>,
    target: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Vec<u8>, ApiError> {
    let Some((service, operation)) = target.split_once('.') else {
        return Err(ApiError::unknown_operation(target));
    };
    match service {
        sfn::TARGET_PREFIX => {
            let body = read_body(headers, body, front.options.max_body_bytes).await?;
            sfn::handle(&*front.step_functions, operation, &body).await
        }
        _ => Err(ApiError::unknown_operation(target)),
    }
}

async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::request_too_large(limit));
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok(bytes),
        Err(error) => {
            // Over the limit (chunked bodies) or the connection failed mid-body.
            let too_large = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            if too_large {
                Err(ApiError::request_too_large(limit))
            } else {
                Err(ApiError::serialization(format!(
                    "Cannot read the request body: {error}"
                )))
            }
        }
    }
}

fn respond(request_id: &str, result: Result<Vec<u8>, ApiError>) -> Response {
    let mut response = match result {
        Ok(body) => (StatusCode::OK, body).into_response(),
        Err(error) => {
            let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
            let mut response = (status, error.to_body()).into_response();
            insert_header(&mut response, ERROR_TYPE_HEADER, &error.kind);
            response
        }
    };
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(AMZ_JSON_1_0));
    insert_header(&mut response, REQUEST_ID_HEADER, request_id);
    response
}

/// Sets a header of `response` to `value`, unless `value` cannot be a header value.
pub(crate) fn insert_header(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response
            .headers_mut()
            .insert(header::HeaderName::from_static(name), value);
    }
}

/// Runs `future`, turning a panic into `Err(payload)` instead of unwinding into the server.
pub(crate) async fn catch_unwind<F: Future>(
    future: F,
) -> Result<F::Output, Box<dyn std::any::Any + Send + 'static>> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(payload)),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bodies_over_the_limit_are_413_whether_declared_or_not() {
        let mut headers = HeaderMap::new();
        let error = read_body(&headers, Body::from(vec![b' '; 11]), 10)
            .await
            .unwrap_err();
        assert_eq!(
            (error.kind.as_str(), error.status),
            ("RequestEntityTooLargeException", 413)
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("11"));
        let error = read_body(&headers, Body::empty(), 10).await.unwrap_err();
        assert_eq!(error.status, 413);
        let body = read_body(&HeaderMap::new(), Body::from("0123456789"), 10)
            .await
            .unwrap();
        assert_eq!(&body[..], b"0123456789");
    }

    #[tokio::test]
    async fn panics_are_caught() {
        fn boom() -> u32 {
            panic!("boom")
        }
        let result = catch_unwind(async { boom() }).await;
        let Err(payload) = result else {
            panic!("the panic was not caught");
        };
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
        assert_eq!(catch_unwind(async { 7 }).await.ok(), Some(7));
    }
}
