//! The retention of closed STANDARD executions. AWS keeps an execution for 90 days after it
//! closes, then answers ExecutionDoesNotExist; without the same, a server's data grows with
//! every execution it ever ran. A background task deletes, on the engine's clock (so
//! `--time-scale` and the clock API apply), every SUCCEEDED, FAILED, TIMED_OUT or ABORTED
//! execution that stopped longer ago than the retention, with everything that belongs to it
//! ([`Store::purge_closed`]). Open executions are never touched.

use std::sync::{Arc, Weak};
use std::time::Duration;

use sluice_store::Store;

use super::{Engine, EngineError, Inner};
use crate::Dispatch;

/// Executions one purge batch deletes. Each batch is one transaction of the store's single
/// writer, queued behind the commits already waiting: small enough to hold commits up only
/// briefly (a few milliseconds), large enough to outpace any ingest rate.
const PURGE_BATCH: usize = 500;
/// How often, on the engine's clock, the purge looks for expired executions (sooner when the
/// clock is advanced).
const PURGE_EVERY_MS: i64 = 60_000;
/// The least wall time between two passes, however fast the clock runs.
const MIN_PAUSE: Duration = Duration::from_secs(1);

impl<S: Store, D: Dispatch> Engine<S, D> {
    /// Deletes every closed STANDARD execution that stopped more than the retention ago on the
    /// engine's clock, in batches; returns how many. Does nothing without a retention.
    pub async fn purge_expired(&self) -> Result<usize, EngineError> {
        let Some(retention) = self.inner.options.execution_retention else {
            return Ok(0);
        };
        let retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        let cutoff = self.inner.clock.now_ms().saturating_sub(retention_ms);
        let mut purged = 0;
        loop {
            let batch = self.inner.store.purge_closed(cutoff, PURGE_BATCH).await?;
            purged += batch.len();
            if batch.len() < PURGE_BATCH {
                return Ok(purged);
            }
        }
    }

    /// Starts the background purge (`None` without a retention): a pass now, then one per
    /// minute of the engine's clock. It ends once the engine is dropped or its store closed.
    pub fn start_purge(&self) -> Option<tokio::task::JoinHandle<()>> {
        self.inner.options.execution_retention?;
        let engine: Weak<Inner<S, D>> = Arc::downgrade(&self.inner);
        let clock = self.inner.clock.clone();
        let mut shutdown = Box::pin(self.inner.tasks.cancelled());
        Some(self.inner.tasks.spawn("purge", async move {
            loop {
                // From before the pass: a clock advanced during it makes the next one due.
                let due = clock.now_ms().saturating_add(PURGE_EVERY_MS);
                // Held only during a pass: the task must not keep the engine alive.
                let Some(inner) = engine.upgrade() else {
                    return;
                };
                match (Engine { inner }).purge_expired().await {
                    Ok(0) => {}
                    Ok(purged) => tracing::debug!(purged, "purged expired executions"),
                    Err(EngineError::Store(sluice_store::Error::Closed)) => return,
                    Err(error) => tracing::warn!(%error, "purging expired executions"),
                }
                tokio::select! {
                    () = &mut shutdown => return,
                    _ = async { tokio::join!(clock.sleep_until(due), tokio::time::sleep(MIN_PAUSE)) } => {}
                }
            }
        }))
    }
}
