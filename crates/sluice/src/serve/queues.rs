//! `GET /sluice/queues`: every queue (depth, in flight, delayed, oldest message's age, traffic
//! since the start, dead letters) and every topic with its subscriptions (deliveries,
//! failures, filtered out), for `sluice queues` and operators.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};
use sluice_broker::Broker;
use sluice_store::SqliteStore;

/// The route, to merge beside the AWS API.
pub fn router(broker: Broker<SqliteStore>) -> Router {
    Router::new()
        .route("/sluice/queues", get(read))
        .with_state(broker)
}

async fn read(State(broker): State<Broker<SqliteStore>>) -> Json<Value> {
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
