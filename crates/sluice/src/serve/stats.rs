//! `GET /sluice/stats`: the store's counters since the server started (commits, group commit
//! sizes, fsyncs, checkpoints, where the writer's time went), for operators and benchmarks.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};
use sluice_store::SqliteStore;

/// The route, to merge beside the AWS API.
pub fn router(store: SqliteStore) -> Router {
    Router::new()
        .route("/sluice/stats", get(read))
        .with_state(store)
}

async fn read(State(store): State<SqliteStore>) -> Json<Value> {
    let s = store.stats();
    Json(json!({
        "store": {
            "commits": s.commits,
            "rejected": s.rejected,
            "groups": s.groups,
            "largestGroup": s.largest_group,
            "fsyncs": s.fsyncs,
            "checkpoints": s.checkpoints,
            "walPages": s.wal_pages,
            "applyMicros": s.apply_us,
            "syncMicros": s.sync_us,
            "checkpointMicros": s.checkpoint_us,
            "purged": s.purged,
        }
    }))
}
