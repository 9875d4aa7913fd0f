//! DescribeMapRun, ListMapRuns and UpdateMapRun, on the Map Runs the engine records for each
//! distributed Map (`sluice_engine::Engine::map_run`).
//!
//! A child module of `backend` (declared there).

use sluice_api::ApiError;
use sluice_api::sfn::arn::{Arn, ResourceType};
use sluice_api::sfn::model::{
    DescribeMapRunInput, DescribeMapRunOutput, ListMapRunsInput, ListMapRunsOutput,
    MapRunExecutionCounts, MapRunItemCounts, MapRunListItem, MapRunStatus, UpdateMapRunInput,
    UpdateMapRunOutput,
};
use sluice_api::sfn::pagination::Page;
use sluice_asl::map_run::{self, MapRunUpdate};
use sluice_engine::{Dispatch, MapRunView};
use sluice_store::Store;

use super::{Backend, engine_error, secs};

fn status(s: map_run::MapRunStatus) -> MapRunStatus {
    match s {
        map_run::MapRunStatus::Running => MapRunStatus::Running,
        map_run::MapRunStatus::Succeeded => MapRunStatus::Succeeded,
        map_run::MapRunStatus::Failed => MapRunStatus::Failed,
        map_run::MapRunStatus::Aborted => MapRunStatus::Aborted,
    }
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The child workflow executions (one per item, or per batch with an ItemBatcher); every
/// succeeded child's result is in the Map's output or its ResultWriter export (AWS counts those
/// as `resultsWritten`, with or without a ResultWriter, as recorded).
fn execution_counts(c: &map_run::MapRunCounts) -> MapRunExecutionCounts {
    MapRunExecutionCounts {
        pending: count(c.pending),
        running: count(c.running),
        succeeded: count(c.succeeded),
        failed: count(c.failed),
        timed_out: count(c.timed_out),
        aborted: count(c.aborted),
        total: count(c.total),
        results_written: count(c.succeeded),
        failures_not_redrivable: Some(0),
        pending_redrive: Some(0),
    }
}

fn item_counts(c: &map_run::MapRunCounts) -> MapRunItemCounts {
    let e = execution_counts(c);
    MapRunItemCounts {
        pending: e.pending,
        running: e.running,
        succeeded: e.succeeded,
        failed: e.failed,
        timed_out: e.timed_out,
        aborted: e.aborted,
        total: e.total,
        results_written: e.results_written,
        failures_not_redrivable: e.failures_not_redrivable,
        pending_redrive: e.pending_redrive,
    }
}

impl<S: Store, D: Dispatch> Backend<S, D> {
    async fn map_run_view(&self, arn: &str) -> Result<MapRunView, ApiError> {
        Arn::parse_as(arn, &[ResourceType::MapRun])?;
        self.engine
            .map_run(arn)
            .await
            .map_err(engine_error)?
            .ok_or_else(|| ApiError::resource_not_found(arn))
    }

    pub(super) async fn describe_run(
        &self,
        input: DescribeMapRunInput,
    ) -> Result<DescribeMapRunOutput, ApiError> {
        let MapRunView { execution_arn, run } = self.map_run_view(&input.map_run_arn).await?;
        Ok(DescribeMapRunOutput {
            map_run_arn: run.arn,
            execution_arn,
            status: status(run.status),
            start_date: secs(run.start_ms),
            stop_date: run.stop_ms.map(secs),
            max_concurrency: i32::try_from(run.max_concurrency).unwrap_or(i32::MAX),
            tolerated_failure_percentage: run.tolerated_failure_percentage,
            tolerated_failure_count: count(run.tolerated_failure_count),
            // With an ItemBatcher, a batch counts as its items.
            item_counts: item_counts(run.item_counts.as_ref().unwrap_or(&run.counts)),
            execution_counts: execution_counts(&run.counts),
            redrive_count: Some(i32::try_from(run.redrive_count).unwrap_or(i32::MAX)),
            redrive_date: run.redrive_ms.map(secs),
        })
    }

    pub(super) async fn list_runs(
        &self,
        input: ListMapRunsInput,
    ) -> Result<ListMapRunsOutput, ApiError> {
        // The execution must exist (ExecutionDoesNotExist otherwise), as on AWS.
        let execution = self.execution(&input.execution_arn).await?;
        let page = Page::from_request(input.next_token.as_deref(), input.max_results)?;
        let runs = self
            .engine
            .map_runs(&execution.arn)
            .await
            .map_err(engine_error)?;
        let (items, next_token) = page.take(runs, |v| {
            format!("{:020}|{}", i64::MAX - v.run.start_ms, v.run.arn)
        });
        Ok(ListMapRunsOutput {
            map_runs: items
                .into_iter()
                .map(|MapRunView { execution_arn, run }| MapRunListItem {
                    state_machine_arn: run.child_state_machine_arn(),
                    execution_arn,
                    start_date: secs(run.start_ms),
                    stop_date: run.stop_ms.map(secs),
                    map_run_arn: run.arn,
                })
                .collect(),
            next_token,
        })
    }

    pub(super) async fn update_run(
        &self,
        input: UpdateMapRunInput,
    ) -> Result<UpdateMapRunOutput, ApiError> {
        Arn::parse_as(&input.map_run_arn, &[ResourceType::MapRun])?;
        if input.max_concurrency.is_none()
            && input.tolerated_failure_percentage.is_none()
            && input.tolerated_failure_count.is_none()
        {
            return Err(ApiError::validation(
                "At least one of maxConcurrency, toleratedFailurePercentage or \
                 toleratedFailureCount must be provided",
            ));
        }
        // The model bounds them (non-negative, a percentage up to 100): checked before here.
        let update = MapRunUpdate {
            max_concurrency: input.max_concurrency.and_then(|n| u32::try_from(n).ok()),
            tolerated_failure_percentage: input.tolerated_failure_percentage,
            tolerated_failure_count: input
                .tolerated_failure_count
                .and_then(|n| u64::try_from(n).ok()),
        };
        let found = self
            .engine
            .update_map_run(&input.map_run_arn, update)
            .await
            .map_err(engine_error)?;
        if !found {
            return Err(ApiError::resource_not_found(&input.map_run_arn));
        }
        Ok(UpdateMapRunOutput {})
    }
}
