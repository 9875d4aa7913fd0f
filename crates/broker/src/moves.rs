//! Message move tasks (StartMessageMoveTask): a dead-letter queue's messages moved back to the
//! queues they came from, or to a destination, at a bounded rate, in the background. Each
//! message moves in one commit (sent there, deleted here), so a crash moves it at most once
//! more (it is then in both places only if the crash falls between, which one commit rules
//! out). Tasks are kept in memory: after a restart, list shows none and a new one may start.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;

use crate::{Broker, Error, Queue, lock};
use sluice_store::Store;

/// How a move task stands, as AWS names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveStatus {
    Running,
    Completed,
    Cancelling,
    Cancelled,
    Failed,
}

impl MoveStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Completed => "COMPLETED",
            Self::Cancelling => "CANCELLING",
            Self::Cancelled => "CANCELLED",
            Self::Failed => "FAILED",
        }
    }
}

/// One task, as ListMessageMoveTasks shows it.
#[derive(Debug)]
pub struct MoveTask {
    pub handle: String,
    pub source_arn: String,
    pub destination_arn: Option<String>,
    pub rate: Option<u32>,
    pub started_ms: i64,
    pub to_move: u64,
    moved: AtomicU64,
    cancel: AtomicBool,
    state: std::sync::Mutex<(MoveStatus, Option<String>)>,
}

impl MoveTask {
    pub fn moved(&self) -> u64 {
        self.moved.load(Ordering::Relaxed)
    }

    /// The status and, for a failed task, why.
    pub fn status(&self) -> (MoveStatus, Option<String>) {
        lock(&self.state).clone()
    }

    fn finish(&self, status: MoveStatus, reason: Option<String>) {
        *lock(&self.state) = (status, reason);
    }
}

/// The most messages per second a task may be given.
pub const MAX_RATE: u32 = 500;

impl<S: Store> Broker<S> {
    /// StartMessageMoveTask: moves the messages of the dead-letter queue `source_arn` to
    /// `destination_arn`, or each back to the queue it was dead-lettered from.
    pub fn start_move(
        &self,
        source_arn: &str,
        destination_arn: Option<&str>,
        rate: Option<u32>,
    ) -> Result<Arc<MoveTask>, Error> {
        let source = self.queue_by_arn(source_arn).ok_or_else(|| {
            Error::ResourceNotFound(
                "The resource that you specified for the SourceArn parameter doesn't exist.".into(),
            )
        })?;
        if self.dead_letter_sources(&source.name)?.is_empty() {
            return Err(Error::InvalidParameterValue(
                "Source queue must be configured as a Dead Letter Queue.".into(),
            ));
        }
        if let Some(destination) = destination_arn
            && self.queue_by_arn(destination).is_none()
        {
            return Err(Error::ResourceNotFound(
                "The resource that you specified for the DestinationArn parameter doesn't exist."
                    .into(),
            ));
        }
        if let Some(rate) = rate
            && !(1..=MAX_RATE).contains(&rate)
        {
            return Err(Error::InvalidParameterValue(format!(
                "Value {rate} for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: Must be between 1 and {MAX_RATE}."
            )));
        }
        let mut moves = lock(&self.inner.moves);
        if moves
            .iter()
            .any(|t| t.source_arn == source.arn && t.status().0 == MoveStatus::Running)
        {
            return Err(Error::InvalidParameterValue(
                "There is already a task running. Only one active task is allowed for a source queue arn at a given time."
                    .into(),
            ));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let handle = base64::engine::general_purpose::STANDARD.encode(format!(
            r#"{{"taskId":"{id}","sourceArn":"{}"}}"#,
            source.arn
        ));
        let task = Arc::new(MoveTask {
            handle,
            source_arn: source.arn.clone(),
            destination_arn: destination_arn.map(str::to_owned),
            rate,
            started_ms: self.inner.clock.now_ms(),
            to_move: lock(&source.state).messages.len() as u64,
            moved: AtomicU64::new(0),
            cancel: AtomicBool::new(false),
            state: std::sync::Mutex::new((MoveStatus::Running, None)),
        });
        moves.insert(0, Arc::clone(&task));
        drop(moves);
        let broker = self.clone();
        let running = Arc::clone(&task);
        self.inner.tasks.spawn("message move", async move {
            broker.run_move(&source, &running).await;
        });
        Ok(task)
    }

    async fn run_move(&self, source: &Arc<Queue>, task: &MoveTask) {
        let pause = task
            .rate
            .map(|rate| Duration::from_secs_f64(1.0 / f64::from(rate)));
        loop {
            if task.cancel.load(Ordering::Relaxed) {
                task.finish(MoveStatus::Cancelled, None);
                return;
            }
            if self.inner.tasks.is_stopping() {
                return;
            }
            let now = self.inner.clock.now_ms();
            // The next message no receiver holds.
            let next = lock(&source.state)
                .messages
                .iter()
                .find(|(_, held)| held.delivery.visible_ms <= now)
                .map(|(seq, held)| (*seq, Arc::clone(&held.sent)));
            let Some((seq, sent)) = next else {
                task.finish(MoveStatus::Completed, None);
                return;
            };
            let target_arn = task
                .destination_arn
                .clone()
                .or_else(|| sent.dead_letter_source.clone());
            let Some(target) = target_arn.as_deref().and_then(|arn| self.queue_by_arn(arn)) else {
                task.finish(
                    MoveStatus::Failed,
                    Some("AWS.SimpleQueueService.NonExistentQueue".into()),
                );
                return;
            };
            match self.move_message(source, seq, &target).await {
                Ok(()) => {
                    task.moved.fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => {
                    task.finish(MoveStatus::Failed, Some(error.to_string()));
                    return;
                }
            }
            if let Some(pause) = pause {
                tokio::time::sleep(pause).await;
            }
        }
    }

    /// ListMessageMoveTasks: the source's tasks, newest first.
    pub fn moves(&self, source_arn: &str) -> Result<Vec<Arc<MoveTask>>, Error> {
        if self.queue_by_arn(source_arn).is_none() {
            return Err(Error::ResourceNotFound(
                "The resource that you specified for the SourceArn parameter doesn't exist.".into(),
            ));
        }
        Ok(lock(&self.inner.moves)
            .iter()
            .filter(|t| t.source_arn == source_arn)
            .cloned()
            .collect())
    }

    /// CancelMessageMoveTask: stops a running task; what it moved stays moved.
    pub fn cancel_move(&self, handle: &str) -> Result<Arc<MoveTask>, Error> {
        let task = lock(&self.inner.moves)
            .iter()
            .find(|t| t.handle == handle)
            .cloned()
            .ok_or_else(|| Error::ResourceNotFound("Task does not exist.".into()))?;
        let (status, _) = task.status();
        if status != MoveStatus::Running {
            return Err(Error::ResourceNotFound(
                "Task does not exist or is not running.".into(),
            ));
        }
        task.cancel.store(true, Ordering::Relaxed);
        task.finish(MoveStatus::Cancelling, None);
        Ok(task)
    }
}
