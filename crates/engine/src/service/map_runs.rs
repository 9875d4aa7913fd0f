//! DescribeMapRun, ListMapRuns and UpdateMapRun. The driver keeps each distributed Map's Map
//! Run (`sluice_asl::map_run::MapRun`) and the durable loop commits it with the step that
//! changed it, so the store always holds what the execution's history says. UpdateMapRun goes
//! to the running execution's loop, like a task callback (the new limits change what the
//! Map does next, in the same step that records them); a Map Run whose execution does not run
//! here only has its record updated.

use sluice_asl::map_run::{MapRun, MapRunUpdate};
use sluice_store::{MapRunRecord, Store, Write};
use tokio::sync::oneshot;

use super::callbacks::{Callback, Signal};
use super::{Engine, EngineError, lock};
use crate::Dispatch;

/// A Map Run and the execution it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct MapRunView {
    pub execution_arn: String,
    pub run: MapRun,
}

impl MapRunView {
    fn of(record: MapRunRecord) -> Result<Self, EngineError> {
        let run = serde_json::from_str(&record.body).map_err(|e| {
            EngineError::Store(sluice_store::Error::Storage(format!(
                "Map Run {}: unreadable record: {e}",
                record.arn
            )))
        })?;
        Ok(Self {
            execution_arn: record.execution_arn,
            run,
        })
    }
}

impl<S: Store, D: Dispatch> Engine<S, D> {
    /// DescribeMapRun.
    pub async fn map_run(&self, arn: &str) -> Result<Option<MapRunView>, EngineError> {
        match self.inner.store.map_run(arn).await? {
            Some(record) => MapRunView::of(record).map(Some),
            None => Ok(None),
        }
    }

    /// ListMapRuns: the Map Runs of an execution, newest first.
    pub async fn map_runs(&self, execution_arn: &str) -> Result<Vec<MapRunView>, EngineError> {
        let records = self.inner.store.map_runs(execution_arn).await?;
        records.into_iter().map(MapRunView::of).collect()
    }

    /// UpdateMapRun; `Ok(false)` when there is no such Map Run.
    pub async fn update_map_run(
        &self,
        arn: &str,
        update: MapRunUpdate,
    ) -> Result<bool, EngineError> {
        let Some(record) = self.inner.store.map_run(arn).await? else {
            return Ok(false);
        };
        let channel = lock(&self.inner.callbacks)
            .get(&record.execution_arn)
            .cloned();
        if let Some(channel) = channel {
            let (reply, answer) = oneshot::channel();
            let sent = channel.send(Callback {
                token: arn.to_owned(),
                signal: Signal::UpdateMapRun(update),
                reply,
            });
            // Answered once the step that records it is committed.
            if sent.is_ok() && matches!(answer.await, Ok(Ok(()))) {
                return Ok(true);
            }
        }
        // Its execution ended (or does not run here): only the record changes. Read again: the
        // loop may have committed a newer one meanwhile.
        let Some(record) = self.inner.store.map_run(arn).await? else {
            return Ok(false);
        };
        let mut view = MapRunView::of(record.clone())?;
        view.run.apply(update);
        let body = serde_json::to_string(&view.run).unwrap_or_default();
        self.inner
            .store
            .commit(vec![Write::PutMapRun(MapRunRecord { body, ..record })])
            .await?;
        Ok(true)
    }
}
