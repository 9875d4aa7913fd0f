//! SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat: a task token names its execution
//! (`sluice_asl::task_token`), so a callback goes straight to that execution's loop, which
//! applies it to the driver (`Execution::task_callback`, `task_heartbeat`) and answers once the
//! step it made is committed. Nothing is registered per token: an execution that runs here
//! takes callbacks for every task it waits on, after a restart too (the tokens are in its
//! snapshot, and recovering it opens its channel again).
//!
//! Errors as AWS gives them: a text that is not a token is `InvalidToken` (`Invalid Token:
//! 'Invalid token'`); a token whose task no longer waits (it ended, timed out, was retried, or
//! its execution ended) is `TaskTimedOut` (`Task Timed Out: 'Provided task does not exist
//! anymore'`, AWS's answer to a token used twice); a token of an execution that does not exist
//! is `TaskDoesNotExist`.

use std::time::Duration;

use serde_json::Value;
use sluice_asl::Failure;
use sluice_asl::driver::{Effect, Execution, TokenError};
use sluice_asl::map_run::MapRunUpdate;
use sluice_asl::task_token::TaskToken;
use sluice_store::ExecutionStatus;
use sluice_store::Store;
use sluice_types::Arn;
use tokio::sync::{mpsc, oneshot};

use super::{Engine, lock};
use crate::Dispatch;
use crate::activities::ActivityTask;

/// How long a callback for a RUNNING execution that has no loop here yet (it is being started
/// or resumed) waits for one.
const LOOP_WAIT: Duration = Duration::from_secs(2);

/// Why a callback was refused.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// Not a task token.
    #[error("Invalid Token: 'Invalid token'")]
    InvalidToken,
    /// The token's execution does not exist.
    #[error("Task Does Not Exist: 'Provided task does not exist'")]
    TaskDoesNotExist,
    /// The token's task is no longer waiting.
    #[error("Task Timed Out: 'Provided task does not exist anymore'")]
    TaskTimedOut,
    /// The execution is RUNNING but not running here (its loop stopped on a store error; it
    /// resumes on restart).
    #[error("the execution of this task is paused until the server restarts")]
    Unavailable,
    #[error(transparent)]
    Store(#[from] sluice_store::Error),
}

impl From<TokenError> for CallbackError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::Invalid => CallbackError::InvalidToken,
            TokenError::Closed => CallbackError::TaskTimedOut,
        }
    }
}

/// What a callback says.
#[derive(Debug)]
pub(super) enum Signal {
    Success(Value),
    Failure(Failure),
    Heartbeat,
    /// UpdateMapRun; the token is the Map Run's ARN.
    UpdateMapRun(MapRunUpdate),
    /// GetActivityTask handed the task to this worker.
    ActivityStarted(Option<String>),
}

impl Signal {
    /// Applies the signal to `ex`; returns the effects to perform (a heartbeat's new deadline).
    pub(super) fn apply(
        self,
        ex: &mut Execution,
        token: &str,
        now_ms: i64,
    ) -> Result<Vec<Effect>, TokenError> {
        match self {
            Signal::Success(output) => ex.task_callback(token, Ok(output), now_ms).map(|()| vec![]),
            Signal::Failure(failure) => ex
                .task_callback(token, Err(failure), now_ms)
                .map(|()| vec![]),
            Signal::Heartbeat => ex.task_heartbeat(token, now_ms),
            Signal::ActivityStarted(worker) => {
                ex.activity_started(token, worker, now_ms).map(|()| vec![])
            }
            Signal::UpdateMapRun(update) => ex
                .update_map_run(token, update)
                .map(|()| vec![])
                .map_err(|_| TokenError::Closed),
        }
    }
}

/// A callback on its way to its execution's loop, which answers on `reply` once its step is
/// committed.
#[derive(Debug)]
pub(super) struct Callback {
    pub(super) token: String,
    pub(super) signal: Signal,
    pub(super) reply: oneshot::Sender<Result<(), TokenError>>,
}

/// Where an execution's loop takes its callbacks.
pub(super) type Callbacks = mpsc::UnboundedSender<Callback>;

impl<S: Store, D: Dispatch> Engine<S, D> {
    /// SendTaskSuccess: the task waiting with `token` succeeds with `output`.
    pub async fn send_task_success(&self, token: &str, output: Value) -> Result<(), CallbackError> {
        self.callback(token, Signal::Success(output)).await
    }

    /// SendTaskFailure: the task waiting with `token` fails with `error` and `cause` (empty when
    /// not given).
    pub async fn send_task_failure(
        &self,
        token: &str,
        error: String,
        cause: String,
    ) -> Result<(), CallbackError> {
        self.callback(token, Signal::Failure(Failure::new(error, cause)))
            .await
    }

    /// SendTaskHeartbeat: the task waiting with `token` is alive; its `HeartbeatSeconds` count
    /// again from now.
    pub async fn send_task_heartbeat(&self, token: &str) -> Result<(), CallbackError> {
        self.callback(token, Signal::Heartbeat).await
    }

    /// GetActivityTask: the oldest task of `activity` whose execution still waits for it,
    /// waiting up to `wait` for one; its `ActivityStarted` (naming `worker`) is committed
    /// before it is handed out.
    pub async fn get_activity_task(
        &self,
        activity: &str,
        worker: Option<String>,
        wait: Duration,
    ) -> Result<Option<ActivityTask>, CallbackError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(task) = self.inner.activities.take(activity, left).await else {
                return Ok(None);
            };
            let started = Signal::ActivityStarted(worker.clone());
            match self.callback(&task.token, started).await {
                Ok(()) => return Ok(Some(task)),
                // It timed out, or its execution ended, while queued: the next one.
                Err(CallbackError::TaskTimedOut | CallbackError::TaskDoesNotExist) => {}
                Err(other) => return Err(other),
            }
        }
    }

    /// DeleteActivity: its queued tasks are not handed out any more (their executions wait
    /// until they time out, as on AWS).
    pub fn forget_activity(&self, activity: &str) {
        self.inner.activities.forget(activity);
    }

    async fn callback(&self, token: &str, signal: Signal) -> Result<(), CallbackError> {
        let named = TaskToken::decode(token).ok_or(CallbackError::InvalidToken)?;
        let arn = named.execution;
        let mut signal = Some(signal);
        let waited = tokio::time::Instant::now();
        loop {
            let channel = lock(&self.inner.callbacks).get(&arn).cloned();
            if let (Some(channel), Some(s)) = (channel, signal.take()) {
                let (reply, answer) = oneshot::channel();
                let callback = Callback {
                    token: token.to_owned(),
                    signal: s,
                    reply,
                };
                match channel.send(callback) {
                    Ok(()) => {
                        return match answer.await {
                            Ok(result) => result.map_err(CallbackError::from),
                            // The loop ended without answering: see how below.
                            Err(_) => self.not_waiting(&arn).await,
                        };
                    }
                    // The loop just ended: try again (a redrive may have started another).
                    Err(mpsc::error::SendError(back)) => signal = Some(back.signal),
                }
            }
            match self.inner.store.execution(&arn).await? {
                Some(r) if r.status == ExecutionStatus::Running && waited.elapsed() < LOOP_WAIT => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                _ => return self.not_waiting(&arn).await,
            }
        }
    }

    /// Why an execution without a loop here takes no callback.
    async fn not_waiting(&self, arn: &str) -> Result<(), CallbackError> {
        match self.execution(arn).await.map_err(|e| match e {
            super::EngineError::Store(e) => CallbackError::Store(e),
            _ => CallbackError::Unavailable,
        })? {
            None => Err(CallbackError::TaskDoesNotExist),
            Some(r) if r.status == ExecutionStatus::Running && !is_express(arn) => {
                Err(CallbackError::Unavailable)
            }
            Some(_) => Err(CallbackError::TaskTimedOut),
        }
    }
}

/// `arn:<partition>:states:<region>:<account>:express:...`
fn is_express(arn: &str) -> bool {
    Arn::parse(arn)
        .ok()
        .and_then(|arn| arn.execution())
        .is_some_and(|execution| execution.express_id.is_some())
}
