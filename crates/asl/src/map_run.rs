//! A distributed Map's Map Run as DescribeMapRun shows it: its configuration (which
//! UpdateMapRun changes while it runs), its status and how many of its items are where. The
//! driver keeps one per distributed Map state run ([`crate::driver::Execution::map_runs`]);
//! a retried or re-entered Map state starts a new one.

use serde::{Deserialize, Serialize};

/// RUNNING | SUCCEEDED | FAILED | ABORTED, as AWS spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MapRunStatus {
    Running,
    Succeeded,
    Failed,
    Aborted,
}

impl MapRunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::Aborted => "ABORTED",
        }
    }
}

/// How many of a Map Run's child workflow executions (or, in [`MapRun::item_counts`], its
/// items) are in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapRunCounts {
    /// Not started yet (waiting for room under MaxConcurrency, or for a redrive).
    pub pending: u64,
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub timed_out: u64,
    /// Running when the Map Run or its execution stopped.
    pub aborted: u64,
    pub total: u64,
}

/// One Map Run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapRun {
    pub arn: String,
    /// The distributed Map state that started it.
    pub state: String,
    pub status: MapRunStatus,
    pub start_ms: i64,
    pub stop_ms: Option<i64>,
    /// 0: no limit.
    pub max_concurrency: u32,
    pub tolerated_failure_percentage: f64,
    pub tolerated_failure_count: u64,
    /// Child workflow executions: one per item, or per batch with an ItemBatcher.
    pub counts: MapRunCounts,
    /// With an ItemBatcher, the items (each batch counts as its items); without one they are
    /// [`MapRun::counts`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_counts: Option<MapRunCounts>,
    pub redrive_count: u32,
    pub redrive_ms: Option<i64>,
}

impl MapRun {
    /// The ARN of the state machine its child workflows run (`DescribeExecution` of a child
    /// names it): `arn:…:stateMachine:<machine>/<Label or id>`, from the Map Run's ARN
    /// `arn:…:mapRun:<machine>/<Label or id>:<id>`.
    pub fn child_state_machine_arn(&self) -> String {
        child_state_machine_arn(&self.arn)
    }

    /// Takes UpdateMapRun's new limits.
    pub fn apply(&mut self, update: MapRunUpdate) {
        if let Some(n) = update.max_concurrency {
            self.max_concurrency = n;
        }
        if let Some(p) = update.tolerated_failure_percentage {
            self.tolerated_failure_percentage = p;
        }
        if let Some(n) = update.tolerated_failure_count {
            self.tolerated_failure_count = n;
        }
    }

    /// The run's children are known: `executions` of them, carrying `items` items when they
    /// are batches.
    pub(crate) fn totals(&mut self, executions: u64, items: Option<u64>) {
        self.counts.total = executions;
        self.counts.pending = executions;
        self.item_counts = items.map(|n| MapRunCounts {
            pending: n,
            total: n,
            ..MapRunCounts::default()
        });
    }

    /// `n` children, carrying `items` items, move from pending to running.
    pub(crate) fn started(&mut self, n: u64, items: u64) {
        fn start(c: &mut MapRunCounts, n: u64) {
            c.pending = c.pending.saturating_sub(n);
            c.running += n;
        }
        start(&mut self.counts, n);
        if let Some(c) = &mut self.item_counts {
            start(c, items);
        }
    }

    /// One running child, carrying `items` items, ended.
    pub(crate) fn item_ended(&mut self, succeeded: bool, items: u64) {
        fn end(c: &mut MapRunCounts, n: u64, succeeded: bool) {
            c.running = c.running.saturating_sub(n);
            if succeeded {
                c.succeeded += n;
            } else {
                c.failed += n;
            }
        }
        end(&mut self.counts, 1, succeeded);
        if let Some(c) = &mut self.item_counts {
            end(c, items, succeeded);
        }
    }

    /// The run ended with `status` at `now_ms`; items still running count as aborted.
    pub(crate) fn ended(&mut self, status: MapRunStatus, now_ms: i64) {
        if self.status != MapRunStatus::Running {
            return;
        }
        self.status = status;
        self.stop_ms = Some(now_ms);
        self.counts.aborted += std::mem::take(&mut self.counts.running);
        if let Some(c) = &mut self.item_counts {
            c.aborted += std::mem::take(&mut c.running);
        }
    }

    /// RedriveExecution runs the unsuccessful items again: `running` of them at once (their
    /// child workflows continue), `queued` once there is room.
    pub(crate) fn redriven(&mut self, redrive_count: u32, running: u64, queued: u64, now_ms: i64) {
        let c = &mut self.counts;
        (c.failed, c.timed_out, c.aborted) = (0, 0, 0);
        c.running = running;
        c.pending = queued;
        // Batches carry their items: what did not succeed is pending again, and moves as
        // the batches start.
        if let Some(c) = &mut self.item_counts {
            (c.failed, c.timed_out, c.aborted, c.running) = (0, 0, 0, 0);
            c.pending = c.total.saturating_sub(c.succeeded);
        }
        self.status = MapRunStatus::Running;
        self.stop_ms = None;
        self.redrive_count = redrive_count;
        self.redrive_ms = Some(now_ms);
    }
}

/// What UpdateMapRun changes; `None` keeps the current value.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MapRunUpdate {
    pub max_concurrency: Option<u32>,
    pub tolerated_failure_percentage: Option<f64>,
    pub tolerated_failure_count: Option<u64>,
}

/// The execution has no Map Run with that ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no such Map Run in this execution")]
pub struct MapRunMissing;

/// See [`MapRun::child_state_machine_arn`].
pub fn child_state_machine_arn(map_run_arn: &str) -> String {
    let (base, _id) = map_run_arn.rsplit_once(':').unwrap_or((map_run_arn, ""));
    base.replacen(":mapRun:", ":stateMachine:", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(total: u64) -> MapRun {
        MapRun {
            arn: "arn:aws:states:us-east-1:123456789012:mapRun:m/Label:abc".into(),
            state: "Map".into(),
            status: MapRunStatus::Running,
            start_ms: 0,
            stop_ms: None,
            max_concurrency: 0,
            tolerated_failure_percentage: 0.0,
            tolerated_failure_count: 0,
            counts: MapRunCounts {
                pending: total,
                total,
                ..MapRunCounts::default()
            },
            item_counts: None,
            redrive_count: 0,
            redrive_ms: None,
        }
    }

    #[test]
    fn counts_follow_items_through_a_failure_and_a_redrive() {
        let mut r = run(4);
        r.started(3, 3);
        r.item_ended(true, 1);
        r.item_ended(false, 1);
        r.ended(MapRunStatus::Failed, 10);
        let c = r.counts;
        assert_eq!(
            (c.pending, c.running, c.succeeded, c.failed, c.aborted),
            (1, 0, 1, 1, 1)
        );
        assert_eq!(r.stop_ms, Some(10));
        r.redriven(1, 2, 1, 20);
        let c = r.counts;
        assert_eq!(
            (c.pending, c.running, c.succeeded, c.failed, c.aborted),
            (1, 2, 1, 0, 0)
        );
        assert_eq!(c.total, 4, "the total never changes");
        assert_eq!(
            (r.status, r.stop_ms, r.redrive_ms),
            (MapRunStatus::Running, None, Some(20))
        );
        r.ended(MapRunStatus::Succeeded, 30);
        r.ended(MapRunStatus::Aborted, 40);
        assert_eq!(
            r.status,
            MapRunStatus::Succeeded,
            "an ended run stays ended"
        );
    }

    #[test]
    fn batches_count_as_executions_and_as_their_items() {
        let mut r = run(0);
        r.totals(2, Some(5));
        r.started(2, 5);
        r.item_ended(true, 3);
        r.item_ended(false, 2);
        let (e, i) = (r.counts, r.item_counts.unwrap());
        assert_eq!((e.total, e.succeeded, e.failed, e.running), (2, 1, 1, 0));
        assert_eq!((i.total, i.succeeded, i.failed, i.running), (5, 3, 2, 0));
    }

    #[test]
    fn the_child_state_machine_arn_comes_from_the_map_run_arn() {
        let r = run(1);
        assert_eq!(
            r.child_state_machine_arn(),
            "arn:aws:states:us-east-1:123456789012:stateMachine:m/Label"
        );
    }
}
