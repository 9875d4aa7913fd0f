//! Sluice's own counter routes, for `sluice queues`, operators, tests and benchmarks:
//! - `GET /sluice/queues`: every queue (depth, in flight, delayed, oldest message's age,
//!   traffic since the start, dead letters) and every topic with its subscriptions
//!   (deliveries, failures, filtered out);
//! - `GET /sluice/mappings`: each event-source mapping's pollers, invocations in flight (now
//!   and at their peak) and counts of batches, messages delivered, deleted and filtered out,
//!   with the function's workers;
//! - `GET /sluice/pipes`: each pipe's state and counts of batches, events delivered, filtered
//!   out and failed.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};
use sluice_broker::Broker;
use sluice_functions::Functions;
use sluice_store::Store;

use crate::mappings::Mappings;
use crate::pipes::PipesBackend;

/// The queues' and topics' route, to merge beside the AWS API.
pub fn queues<S: Store>(broker: Broker<S>) -> Router {
    Router::new()
        .route("/sluice/queues", get(read_queues::<S>))
        .with_state(broker)
}

async fn read_queues<S: Store>(State(broker): State<Broker<S>>) -> Json<Value> {
    let queues: Vec<Value> = broker
        .queue_stats()
        .into_iter()
        .map(|q| {
            json!({
                "name": q.name,
                "arn": q.arn,
                "fifo": q.fifo,
                "visible": q.counts.visible,
                "inFlight": q.counts.in_flight,
                "delayed": q.counts.delayed,
                "oldestAgeMs": q.oldest_age_ms,
                "sent": q.sent,
                "received": q.received,
                "deleted": q.deleted,
                "deadLettered": q.dead_lettered,
                "deadLetterTarget": q.dead_letter_target,
            })
        })
        .collect();
    let topics: Vec<Value> = broker
        .topic_stats()
        .into_iter()
        .map(|t| {
            json!({
                "arn": t.arn,
                "fifo": t.fifo,
                "published": t.published,
                "subscriptions": t.subscriptions.into_iter().map(|s| json!({
                    "arn": s.arn,
                    "protocol": s.protocol,
                    "endpoint": s.endpoint,
                    "confirmed": s.confirmed,
                    "delivered": s.delivered,
                    "failed": s.failed,
                    "filtered": s.filtered,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(json!({"queues": queues, "topics": topics}))
}

/// The mappings' and pipes' routes, to merge beside the AWS API.
pub fn flows(mappings: Mappings, functions: Functions, pipes: PipesBackend) -> Router {
    Router::new()
        .route("/sluice/mappings", get(read_mappings))
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

async fn read_mappings(State((mappings, functions)): State<(Mappings, Functions)>) -> Json<Value> {
    let all: Vec<Value> = mappings
        .stats()
        .into_iter()
        .map(|stats| {
            let workers = sluice_functions::FunctionName::parse(&stats.function_arn)
                .map(|named| functions.of(&named).stats(&named.name))
                .unwrap_or_default();
            let mut value = serde_json::to_value(&stats).unwrap_or(Value::Null);
            value["functionWorkers"] = json!(workers.workers);
            value["functionBusy"] = json!(workers.busy);
            value
        })
        .collect();
    Json(json!({ "mappings": all }))
}

/// The schedules' route (`GET /sluice/schedules`), to merge beside the AWS API: each schedule
/// with its next fire time, and the deliveries in flight or retrying.
pub fn schedules<S: Store>(scheduler: crate::scheduler::SchedulerBackend<S>) -> Router {
    Router::new()
        .route("/sluice/schedules", get(read_schedules::<S>))
        .with_state(scheduler)
}

async fn read_schedules<S: Store>(
    State(scheduler): State<crate::scheduler::SchedulerBackend<S>>,
) -> Json<Value> {
    let all: Vec<Value> = scheduler
        .stats()
        .into_iter()
        .map(|s| {
            json!({
                "name": s.name,
                "group": s.group,
                "expression": s.expression,
                "timezone": s.timezone,
                "enabled": s.enabled,
                "target": s.target,
                "nextFireMs": s.next_fire_ms,
                "nextFire": s.next_fire_ms
                    .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                    .map(|t| t.to_string()),
                "fired": s.fired,
                "delivered": s.delivered,
                "failedAttempts": s.failed_attempts,
                "deadLettered": s.dead_lettered,
                "lastLateMs": s.last_late_ms,
            })
        })
        .collect();
    Json(json!({
        "nowMs": scheduler.clock().now_ms(),
        "pendingDeliveries": scheduler.pending_deliveries(),
        "schedules": all,
    }))
}
