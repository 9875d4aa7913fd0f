//! Sluice's own routes over the functions, beside the AWS APIs:
//!
//! - `GET /sluice/functions/{name}/logs`: the function's recent log lines (what its workers
//!   printed, and Sluice's START/END/REPORT lines), each with its sequence number and the
//!   request id of the invocation that printed it — what `sluice logs` reads. Query:
//!   `after=N` (only lines after sequence number N: `--follow` polls with the last it saw),
//!   `requestId=ID` (one invocation's lines). Answers `{"functionName", "lines": [{"seq",
//!   "requestId", "text"}], "last"}` (`last`: the newest sequence number returned, else
//!   `after`).
//! - `GET /sluice/functions/{name}/code?version=N`: a function version's deployment package,
//!   the zip it was uploaded as — where GetFunction's `Code.Location` points (AWS's is a
//!   presigned S3 URL). `version` is `$LATEST` (`%24LATEST`; also when absent), a version
//!   number or an alias. Answers `application/zip`.
//!
//! Both take `region=R`, the function's region (the configured one when absent), and answer an
//! unknown function or version with its status and `{"message"}`.

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use sluice_functions::Functions;

/// The routes, on the functions' configured region's view.
pub fn router(functions: Functions) -> Router {
    Router::new()
        .route("/sluice/functions/{name}/logs", get(logs))
        .route("/sluice/functions/{name}/code", get(code))
        .with_state(functions)
}

/// The query's `key=value` pairs (values as sent: the parameters these routes take need no
/// decoding but `%24` in versions).
fn pairs(query: Option<&str>) -> impl Iterator<Item = (&str, &str)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
}

/// The view of the region the query names, else `functions`.
fn regional(functions: &Functions, query: Option<&str>) -> Functions {
    match pairs(query).find(|(key, _)| *key == "region") {
        Some((_, region)) if !region.is_empty() => functions.in_region(region),
        _ => functions.clone(),
    }
}

fn failure(error: &sluice_functions::Error) -> Response {
    (
        StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Json(json!({ "message": error.to_string() })),
    )
        .into_response()
}

async fn logs(
    State(functions): State<Functions>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let functions = regional(&functions, query.as_deref());
    let mut after = 0;
    let mut request_id = None;
    for (key, value) in pairs(query.as_deref()) {
        match key {
            "after" => match value.parse() {
                Ok(n) => after = n,
                Err(_) => {
                    let message = format!("after must be a sequence number, not '{value}'");
                    return (StatusCode::BAD_REQUEST, Json(json!({ "message": message })))
                        .into_response();
                }
            },
            "requestId" if !value.is_empty() => request_id = Some(value.to_owned()),
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
        Err(error) => failure(&error),
    }
}

async fn code(
    State(functions): State<Functions>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let functions = regional(&functions, query.as_deref());
    let version = pairs(query.as_deref())
        .find(|(key, value)| *key == "version" && !value.is_empty())
        .map(|(_, v)| v.replace("%24", "$"));
    let package = tokio::task::spawn_blocking(move || {
        let function = functions.resolve(&name, version.as_deref())?;
        functions.package(&function)
    })
    .await;
    match package {
        Ok(Ok(zip)) => ([(header::CONTENT_TYPE, "application/zip")], zip).into_response(),
        Ok(Err(error)) => failure(&error),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "message": format!("reading the package failed: {error}") })),
        )
            .into_response(),
    }
}
