//! The Lambda Runtime API (`/2018-06-01/runtime/...`) one worker talks to.
//!
//! Every worker gets its own loopback listener serving this router, bound to its function's
//! [`Pool`] and its worker id: `AWS_LAMBDA_RUNTIME_API` must be a bare `host:port`, because
//! `awslambdaric` reports init errors through Python's `http.client.HTTPConnection(address)`,
//! which refuses a path prefix (`127.0.0.1:4566/runtime/f/1` is a "nonnumeric port"), and
//! Node's client splits the value on `:`. A per-worker address tells workers apart without
//! one.
//!
//! Endpoints, as AWS documents them:
//! - `GET  /2018-06-01/runtime/invocation/next` — long-polls for the next invocation: the
//!   payload, with `Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms`, `-Invoked-Function-Arn`,
//!   `-Trace-Id`, and `-Client-Context` / `-Cognito-Identity` when given.
//! - `POST /2018-06-01/runtime/invocation/{id}/response` — the result (at most 6 MB: beyond,
//!   the invocation fails with `Function.ResponseSizeTooLarge` and the runtime gets 413).
//! - `POST /2018-06-01/runtime/invocation/{id}/error` — an error document; its type also in
//!   `Lambda-Runtime-Function-Error-Type`.
//! - `POST /2018-06-01/runtime/init/error` — the runtime failed to initialize.
//!
//! Answers: 202 `{"status":"OK"}`; 400 `InvalidRequestID` for an id that is not the worker's
//! current invocation; 410 to a worker being stopped (it is killed right after).

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::function::limits;
use crate::pool::{Pool, Reply};

/// The header a runtime names an error's type in.
pub const ERROR_TYPE_HEADER: &str = "lambda-runtime-function-error-type";

#[derive(Clone)]
struct Worker {
    pool: Arc<Pool>,
    id: u64,
}

/// The Runtime API of worker `id` of `pool`.
pub(crate) fn router(pool: Arc<Pool>, id: u64) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{request_id}/response",
            post(response),
        )
        .route(
            "/2018-06-01/runtime/invocation/{request_id}/error",
            post(error),
        )
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .layer(DefaultBodyLimit::disable())
        .with_state(Worker { pool, id })
}

async fn next(State(worker): State<Worker>) -> Response {
    let Some(invocation) = worker.pool.next(worker.id).await else {
        return runtime_error(
            StatusCode::GONE,
            "WorkerStopped",
            "This runtime is being stopped",
        );
    };
    let mut response = Response::new(Body::from(invocation.payload));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let mut put = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    put("lambda-runtime-aws-request-id", &invocation.request_id);
    put(
        "lambda-runtime-deadline-ms",
        &invocation.deadline_ms.to_string(),
    );
    put(
        "lambda-runtime-invoked-function-arn",
        &invocation.function_arn,
    );
    put("lambda-runtime-trace-id", &invocation.trace_id);
    if let Some(context) = &invocation.client_context {
        put("lambda-runtime-client-context", context);
    }
    response
}

async fn response(
    State(worker): State<Worker>,
    Path(request_id): Path<String>,
    body: Body,
) -> Response {
    let reply = match axum::body::to_bytes(body, limits::MAX_SYNC_PAYLOAD).await {
        Ok(bytes) => Reply::Response(bytes),
        Err(_) => {
            let too_large = Reply::service_error(
                "Function.ResponseSizeTooLarge",
                format!(
                    "Response payload size exceeded maximum allowed payload size ({} bytes).",
                    limits::MAX_SYNC_PAYLOAD
                ),
            );
            return match worker.pool.answer(worker.id, &request_id, too_large) {
                Ok(()) => runtime_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "RequestEntityTooLarge",
                    "Response payload size exceeded maximum allowed payload size",
                ),
                Err(()) => invalid_request_id(),
            };
        }
    };
    answer(&worker, &request_id, reply)
}

async fn error(
    State(worker): State<Worker>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = Reply::from_posted(body, error_type(&headers));
    answer(&worker, &request_id, reply)
}

async fn init_error(State(worker): State<Worker>, headers: HeaderMap, body: Bytes) -> Response {
    worker
        .pool
        .init_error(worker.id, Reply::from_posted(body, error_type(&headers)));
    accepted()
}

fn error_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(ERROR_TYPE_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

fn answer(worker: &Worker, request_id: &str, reply: Reply) -> Response {
    match worker.pool.answer(worker.id, request_id, reply) {
        Ok(()) => accepted(),
        Err(()) => invalid_request_id(),
    }
}

fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"OK"}"#,
    )
        .into_response()
}

fn invalid_request_id() -> Response {
    runtime_error(
        StatusCode::BAD_REQUEST,
        "InvalidRequestID",
        "Invalid request ID",
    )
}

fn runtime_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "errorMessage": message, "errorType": error_type }).to_string(),
    )
        .into_response()
}
