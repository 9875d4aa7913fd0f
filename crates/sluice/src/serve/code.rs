//! `GET /sluice/functions/{name}/code?version=N`: a function version's deployment package, the
//! zip it was uploaded as — where GetFunction's `Code.Location` points (AWS's is a presigned S3
//! URL). `version` is `$LATEST` (`%24LATEST`; also when absent), a version number or an alias.
//! Answers `application/zip`, or 404 with `{"message"}` for an unknown function or version.

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use sluice_functions::Functions;

/// The route, to merge beside the AWS APIs.
pub fn router(functions: Functions) -> Router {
    Router::new()
        .route("/sluice/functions/{name}/code", get(download))
        .with_state(functions)
}

async fn download(
    State(functions): State<Functions>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let version = query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("version="))
        .filter(|v| !v.is_empty())
        .map(|v| v.replace("%24", "$"));
    let package = tokio::task::spawn_blocking(move || {
        let function = functions.resolve(&name, version.as_deref())?;
        functions.package(&function)
    })
    .await;
    match package {
        Ok(Ok(zip)) => ([(header::CONTENT_TYPE, "application/zip")], zip).into_response(),
        Ok(Err(error)) => (
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Json(json!({ "message": error.to_string() })),
        )
            .into_response(),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "message": format!("reading the package failed: {error}") })),
        )
            .into_response(),
    }
}
