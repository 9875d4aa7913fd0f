//! `GET /sluice/functions/{name}/logs`: the function's recent log lines (what its workers
//! printed, and Sluice's START/END/REPORT lines), each with its sequence number and the request
//! id of the invocation that printed it — what `sluice logs` reads.
//!
//! Query: `after=N` (only lines after sequence number N: `--follow` polls with the last it
//! saw), `requestId=ID` (one invocation's lines). Answers
//! `{"functionName", "lines": [{"seq", "requestId", "text"}], "last"}` (`last`: the newest
//! sequence number returned, else `after`), or 404 with `{"message"}` for an unknown function.

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use sluice_functions::Functions;

/// The route, to merge beside the AWS APIs, with the other function routes
/// (`super::code`: the deployment packages GetFunction points to).
pub fn router(functions: Functions) -> Router {
    Router::new()
        .route("/sluice/functions/{name}/logs", get(read))
        .with_state(functions.clone())
        .merge(super::code::router(functions))
}

async fn read(
    State(functions): State<Functions>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let mut after = 0;
    let mut request_id = None;
    for pair in query.as_deref().unwrap_or_default().split('&') {
        match pair.split_once('=') {
            Some(("after", value)) => match value.parse() {
                Ok(n) => after = n,
                Err(_) => {
                    let message = format!("after must be a sequence number, not '{value}'");
                    return (StatusCode::BAD_REQUEST, Json(json!({ "message": message })))
                        .into_response();
                }
            },
            Some(("requestId", value)) if !value.is_empty() => request_id = Some(value.to_owned()),
            _ => {}
        }
    }
    match functions.log_lines(&name, after, request_id.as_deref()) {
        Ok(lines) => {
            let last = lines.last().map_or(after, |l| l.seq);
            let lines: Vec<_> = lines
                .into_iter()
                .map(|l| json!({ "seq": l.seq, "requestId": l.request_id.as_deref(), "text": l.text }))
                .collect();
            Json(json!({ "functionName": name, "lines": lines, "last": last })).into_response()
        }
        Err(error) => (
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Json(json!({ "message": error.to_string() })),
        )
            .into_response(),
    }
}
