//! `GET /sluice/mappings`: each event-source mapping's pollers, invocations in flight (now
//! and at their peak) and counts of batches, messages delivered, deleted and filtered out,
//! with the function's workers, for operators, tests and benchmarks; `GET /sluice/pipes`:
//! each pipe's state and counts of batches, events delivered, filtered out and failed.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};
use sluice_functions::Functions;
use sluice_services::mappings::Mappings;
use sluice_services::pipes::PipesBackend;

/// The routes, to merge beside the AWS API.
pub fn router(mappings: Mappings, functions: Functions, pipes: PipesBackend) -> Router {
    Router::new()
        .route("/sluice/mappings", get(read))
        .with_state((mappings, functions))
        .merge(
            Router::new()
                .route("/sluice/pipes", get(read_pipes))
                .with_state(pipes),
        )
}

async fn read_pipes(State(pipes): State<PipesBackend>) -> Json<Value> {
    let all: Vec<Value> = pipes
        .stats()
        .into_iter()
        .map(|p| {
            json!({
                "name": p.name,
                "source": p.source,
                "target": p.target,
                "running": p.running,
                "polling": p.polling,
                "batches": p.batches,
                "delivered": p.delivered,
                "filtered": p.filtered,
                "failedBatches": p.failed,
            })
        })
        .collect();
    Json(json!({ "pipes": all }))
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
