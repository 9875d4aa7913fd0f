//! Time control over HTTP, beyond AWS: `GET /sluice/clock` reads the engine's clock and
//! `POST /sluice/clock {"advanceSeconds": N}` moves it forward at once, so a pipeline with
//! hour-long Waits or retry backoffs is tested in milliseconds.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sluice_engine::Clock;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Advance {
    advance_seconds: f64,
}

/// The routes, to merge beside the AWS API.
pub fn router(clock: Clock) -> Router {
    Router::new()
        .route("/sluice/clock", get(read).post(advance))
        .with_state(clock)
}

fn now(clock: &Clock) -> Value {
    let ms = clock.now_ms();
    let iso = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    json!({ "nowMs": ms, "now": iso })
}

async fn read(State(clock): State<Clock>) -> Json<Value> {
    Json(now(&clock))
}

async fn advance(
    State(clock): State<Clock>,
    body: Result<Json<Advance>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let bad = |message: String| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({ "__type": "ValidationException", "message": message })),
        )
    };
    let Json(Advance { advance_seconds }) =
        body.map_err(|e| bad(format!("expected {{\"advanceSeconds\": <number>}}: {e}")))?;
    if !advance_seconds.is_finite() || advance_seconds < 0.0 {
        return Err(bad(format!(
            "advanceSeconds must be a non-negative number, got {advance_seconds}"
        )));
    }
    clock.advance((advance_seconds * 1000.0) as i64);
    Ok(Json(now(&clock)))
}
