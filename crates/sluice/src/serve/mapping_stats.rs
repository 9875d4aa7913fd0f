//! `GET /sluice/mappings`: each event-source mapping's pollers, invocations in flight (now
//! and at their peak) and counts of batches, messages delivered, deleted and filtered out,
//! with the function's workers, for operators, tests and benchmarks.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};
use sluice_functions::Functions;
use sluice_services::mappings::Mappings;

/// The route, to merge beside the AWS API.
pub fn router(mappings: Mappings, functions: Functions) -> Router {
    Router::new()
        .route("/sluice/mappings", get(read))
        .with_state((mappings, functions))
}

async fn read(State((mappings, functions)): State<(Mappings, Functions)>) -> Json<Value> {
    let all: Vec<Value> = mappings
        .stats()
        .into_iter()
        .map(|stats| {
            let name = sluice_functions::parse_function_name(&stats.function_arn)
                .map(|(name, _)| name)
                .unwrap_or_default();
            let workers = functions.stats(&name);
            let mut value = serde_json::to_value(&stats).unwrap_or(Value::Null);
            value["functionWorkers"] = json!(workers.workers);
            value["functionBusy"] = json!(workers.busy);
            value
        })
        .collect();
    Json(json!({ "mappings": all }))
}
