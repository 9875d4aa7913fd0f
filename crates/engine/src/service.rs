//! The engine as a service: STANDARD executions durable in a [`Store`] (every step committed
//! before its effects are performed; resumed after a restart), EXPRESS executions in memory with
//! a bounded retention so they can still be described.
//!
//! Exactly-once transitions: a step of a STANDARD execution is its new history events plus its
//! new snapshot (`driver::Execution` serialized), written in one commit. Effects (tasks, timers)
//! are performed only after that commit is durable, so a crash either loses the step entirely
//! (it is taken again from the previous snapshot: tasks are at-least-once) or keeps it whole.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use sluice_asl::definition::StateMachine;
use sluice_asl::driver::{Effect, Execution, Settings, Status};
use sluice_asl::history::HistoryEvent;
use sluice_asl::map_run::MapRun;
use sluice_asl::step;
use sluice_asl::validate::validate;
use sluice_store::ExecutionStatus;
use sluice_store::{
    EventRecord, ExecutionRecord, MachineType, MapRunRecord, Page, StateMachineRecord, Store, Write,
};
use tokio::sync::{mpsc, oneshot};

use crate::activities::ActivityQueues;
use crate::effects::{Outcome, Performer};
use crate::{Clock, Dispatch};

mod callbacks;
mod definitions;
mod map_runs;
mod nested;
mod redrive;
mod retention;

pub use callbacks::CallbackError;
pub use map_runs::MapRunView;
pub use redrive::{REDRIVABLE_PERIOD, redrivable};

/// Told when a STANDARD execution's status changes (started or redriven: RUNNING; ended:
/// SUCCEEDED, FAILED, TIMED_OUT, ABORTED), once that change is committed. What it does with it
/// (EventBridge's "Step Functions Execution Status Change" events) is the wiring's business:
/// the engine knows no event bus. Called on the execution's task: it must not block.
pub trait StatusObserver: Send + Sync + 'static {
    fn status_changed(&self, record: &ExecutionRecord);
}

/// How many parsed definitions (machine revisions) stay cached.
const PARSED_DEFINITIONS: usize = 1024;

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Payload limit (AWS: 256 KiB); `None` disables it.
    pub max_payload_bytes: Option<usize>,
    /// How many ended EXPRESS executions stay describable.
    pub express_retention: usize,
    /// How long a closed STANDARD execution is kept after it stopped, on the engine's clock
    /// (AWS: 90 days), before [`Engine::purge_expired`] deletes it; `None` keeps them all.
    pub execution_retention: Option<Duration>,
    /// Payloads past AWS's quota for opted-in machines ([`crate::payloads`]); `None`: off.
    pub large_payloads: Option<crate::payloads::LargePayloads>,
}

/// AWS's retention of closed executions.
pub const DEFAULT_EXECUTION_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            max_payload_bytes: Some(256 * 1024),
            express_retention: 10_000,
            execution_retention: Some(DEFAULT_EXECUTION_RETENTION),
            large_payloads: None,
        }
    }
}

/// What can go wrong, in terms the API maps to AWS errors.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("Invalid State Machine Definition: '{0}'")]
    InvalidDefinition(String),
    #[error("Execution Already Exists: '{0}'")]
    ExecutionAlreadyExists(String),
    #[error("Execution Does Not Exist: '{0}'")]
    ExecutionDoesNotExist(String),
    #[error("Invalid execution input: {0}")]
    InvalidInput(String),
    /// RedriveExecution refused; the text is AWS's `redriveStatusReason`.
    #[error("{0}")]
    ExecutionNotRedrivable(String),
    #[error(transparent)]
    Store(#[from] sluice_store::Error),
}

/// An execution's input as the caller sent it: text, parsed here, or already parsed by a
/// caller that checked it first (the API), so that it is parsed once.
#[derive(Debug, Clone)]
pub enum ExecutionInput {
    Text(String),
    Parsed { text: String, value: Value },
}

impl ExecutionInput {
    fn parse(self) -> Result<(String, Value), EngineError> {
        match self {
            Self::Text(text) => {
                let value = sluice_asl::json::parse(&text)
                    .map_err(|e| EngineError::InvalidInput(e.to_string()))?;
                Ok((text, value))
            }
            Self::Parsed { text, value } => Ok((text, value)),
        }
    }
}

impl From<String> for ExecutionInput {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<&str> for ExecutionInput {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

/// The execution engine. Cheap to clone.
pub struct Engine<S: Store, D: Dispatch> {
    inner: Arc<Inner<S, D>>,
}

impl<S: Store, D: Dispatch> Clone for Engine<S, D> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<S, D> {
    store: S,
    /// The given dispatcher behind the built-in integrations (nested executions).
    dispatcher: Arc<nested::Router<S, D>>,
    clock: Clock,
    options: EngineOptions,
    /// Parsed definitions by (machine ARN, revision).
    machines: Mutex<definitions::Definitions>,
    /// Stop requests for executions running in this process.
    running: Mutex<HashMap<String, StopSender>>,
    /// Task callbacks (SendTaskSuccess, ...) for the STANDARD executions running here.
    callbacks: Mutex<HashMap<String, callbacks::Callbacks>>,
    /// Recent EXPRESS executions: record and history.
    express: Mutex<Retention>,
    /// RedriveExecution's recent client tokens by execution ARN.
    redrive_tokens: Mutex<HashMap<String, Vec<redrive::RedriveToken>>>,
    /// Activity tasks waiting for a worker.
    activities: Arc<ActivityQueues>,
    /// Execution loops and the purge: stopped where they resume from at shutdown.
    tasks: sluice_runtime::Tasks,
    /// Told of STANDARD executions' status changes, once set.
    observer: std::sync::OnceLock<Arc<dyn StatusObserver>>,
}

/// Recent EXPRESS executions by ARN, oldest dropped first.
#[derive(Default)]
struct Retention {
    order: VecDeque<String>,
    /// History as the driver recorded it: serialized only if someone reads it.
    items: HashMap<String, (ExecutionRecord, Vec<HistoryEvent>)>,
}

impl Retention {
    fn put(&mut self, record: ExecutionRecord, events: Vec<HistoryEvent>, limit: usize) {
        let arn = record.arn.clone();
        if self.items.insert(arn.clone(), (record, events)).is_none() {
            self.order.push_back(arn);
        }
        while self.items.len() > limit {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.items.remove(&oldest);
        }
    }
}

/// Asks a running execution to stop with StopExecution's `error` and `cause`.
type StopSender = oneshot::Sender<(Option<String>, Option<String>)>;

/// What reaches a running STANDARD execution from outside: StopExecution, task callbacks.
struct Signals {
    stop: oneshot::Receiver<(Option<String>, Option<String>)>,
    callbacks: mpsc::UnboundedReceiver<callbacks::Callback>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn event_records(arn: &str, events: impl IntoIterator<Item = HistoryEvent>) -> Vec<EventRecord> {
    events
        .into_iter()
        .map(|e| EventRecord {
            execution_arn: arn.to_owned(),
            id: e.id,
            body: serde_json::to_string(&e).unwrap_or_default(),
        })
        .collect()
}

/// The Map Runs a step started or changed, as store records.
fn map_run_writes(execution_arn: &str, runs: Vec<MapRun>) -> impl Iterator<Item = Write> + '_ {
    runs.into_iter().map(move |run| {
        Write::PutMapRun(MapRunRecord {
            arn: run.arn.clone(),
            execution_arn: execution_arn.to_owned(),
            start_ms: run.start_ms,
            body: serde_json::to_string(&run).unwrap_or_default(),
        })
    })
}

fn large_payload_error(reason: String) -> EngineError {
    EngineError::Store(sluice_store::Error::Storage(format!(
        "large payload store: {reason}"
    )))
}

/// What a RUNNING execution's record keeps to resume after a restart.
#[derive(serde::Serialize, serde::Deserialize)]
struct Snapshot<E> {
    /// The state machine's name (mock configurations are keyed by it).
    machine: String,
    /// The mock test case (`stateMachineArn#TestCase`), if any.
    test_case: Option<String>,
    execution: E,
}

impl Snapshot<Execution> {
    /// The snapshot a record keeps, if it keeps a readable one.
    fn of(record: &ExecutionRecord) -> Option<Self> {
        sluice_asl::json::from_str(record.snapshot.as_deref()?).ok()
    }
}

/// Copies the execution's end (if any) and snapshot into its record.
fn update_record(
    record: &mut ExecutionRecord,
    ex: &Execution,
    machine: &str,
    test_case: &Option<String>,
    now_ms: i64,
) {
    record.next_event_id = ex.next_event_id();
    let snapshot = || {
        let snapshot = Snapshot {
            machine: machine.to_owned(),
            test_case: test_case.clone(),
            execution: ex,
        };
        serde_json::to_string(&snapshot).ok()
    };
    match ex.end() {
        None => record.snapshot = snapshot(),
        Some(end) => {
            record.status = closed_status(end.status);
            record.output = end.output.as_ref().map(Value::to_string);
            let failure = end.failure.as_ref();
            let some = |s: &String| (!s.is_empty()).then(|| s.clone());
            record.error = failure.and_then(|f| some(&f.error));
            record.cause = failure.and_then(|f| some(&f.cause));
            record.stop_ms = Some(now_ms);
            // An unsuccessful execution keeps where it stopped: RedriveExecution resumes it.
            record.snapshot = match end.status {
                Status::Succeeded => None,
                _ => snapshot(),
            };
        }
    }
}

impl<S: Store, D: Dispatch> Engine<S, D> {
    pub fn new(store: S, dispatcher: D, clock: Clock, options: EngineOptions) -> Self {
        Self {
            inner: Arc::new_cyclic(|engine| Inner {
                store,
                dispatcher: Arc::new(nested::Router::new(engine.clone(), dispatcher)),
                clock,
                options,
                machines: Mutex::new(definitions::Definitions::new(PARSED_DEFINITIONS)),
                running: Mutex::default(),
                callbacks: Mutex::default(),
                express: Mutex::default(),
                redrive_tokens: Mutex::default(),
                activities: Arc::default(),
                tasks: sluice_runtime::Tasks::new("engine"),
                observer: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The engine's background tasks: [`sluice_runtime::Tasks::shutdown`] stops running
    /// STANDARD executions where they resume from after a restart.
    pub fn tasks(&self) -> &sluice_runtime::Tasks {
        &self.inner.tasks
    }

    pub fn store(&self) -> &S {
        &self.inner.store
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The parsed definition of `record`, cached by (machine, revision): a machine, its
    /// versions and its revisions read back from the store share one parse per revision.
    fn machine(&self, record: &StateMachineRecord) -> Result<Arc<StateMachine>, EngineError> {
        let key = (record.machine_arn().to_owned(), record.revision_id.clone());
        if let Some(m) = lock(&self.inner.machines).get(&key) {
            return Ok(m);
        }
        let v = validate(&record.definition);
        let detail = v.errors();
        let Some(m) = v.machine else {
            return Err(EngineError::InvalidDefinition(detail));
        };
        let m = Arc::new(m);
        lock(&self.inner.machines).insert(key, Arc::clone(&m));
        Ok(m)
    }

    fn settings(&self, machine: &StateMachineRecord, arn: &str, name: &str) -> Settings {
        Settings {
            max_payload_bytes: match &self.inner.options.large_payloads {
                Some(large) if large.applies_to(machine) => Some(large.max_bytes),
                _ => self.inner.options.max_payload_bytes,
            },
            seed: seed_of(arn),
            context: step::Execution {
                id: arn.to_owned(),
                name: name.to_owned(),
                role_arn: machine.role_arn.clone(),
                state_machine_id: machine.arn.clone(),
                state_machine_name: machine.name.clone(),
                ..step::Execution::default()
            },
        }
    }

    /// Starts an execution of `machine` (a machine or a version; `alias_arn` is the alias it
    /// was chosen through, if any, recorded with the execution). STANDARD: durable before this
    /// returns, then runs in the background. EXPRESS: runs in memory in the background.
    pub async fn start(
        &self,
        machine: &StateMachineRecord,
        execution_arn: String,
        name: String,
        input: ExecutionInput,
        test_case: Option<String>,
        alias_arn: Option<String>,
    ) -> Result<ExecutionRecord, EngineError> {
        let (input, input_value) = input.parse()?;
        let m = self.machine(machine)?;
        if machine.machine_type == MachineType::Express {
            let record = new_record(
                machine,
                &execution_arn,
                &name,
                &input,
                self.inner.clock.now_ms(),
                alias_arn.clone(),
            );
            // Describable while it runs: this start returns before it ends.
            self.retain(record.clone(), Vec::new());
            let engine = self.clone();
            let machine = machine.clone();
            self.inner.tasks.spawn("express", async move {
                let _ = engine
                    .express(
                        &machine,
                        m,
                        execution_arn,
                        name,
                        input,
                        input_value,
                        test_case,
                        alias_arn,
                    )
                    .await;
            });
            return Ok(record);
        }
        let now = self.inner.clock.now_ms();
        let mut ex = Execution::start_with_text(
            &m,
            input_value,
            input.clone(),
            self.settings(machine, &execution_arn, &name),
            now,
        );
        let effects = ex.advance(&m, now);
        let events = ex.take_events();
        let mut record = new_record(machine, &execution_arn, &name, &input, now, alias_arn);
        update_record(&mut record, &ex, &machine.name, &test_case, now);
        let mut writes = vec![
            Write::InsertExecution(record.clone()),
            Write::AppendEvents(event_records(&execution_arn, events)),
        ];
        writes.extend(map_run_writes(&execution_arn, ex.take_map_runs()));
        self.offload(&mut writes).await?;
        self.inner.store.commit(writes).await.map_err(|e| match e {
            sluice_store::Error::Conflict { .. } => {
                EngineError::ExecutionAlreadyExists(execution_arn.clone())
            }
            other => EngineError::Store(other),
        })?;
        if record.status != ExecutionStatus::Running {
            // Ended in its first step: it was RUNNING before, and AWS reports both.
            let mut running = record.clone();
            running.status = ExecutionStatus::Running;
            running.stop_ms = None;
            running.output = None;
            running.error = None;
            running.cause = None;
            self.status_changed(&running);
        }
        self.status_changed(&record);
        if ex.end().is_none() {
            self.spawn_durable(
                m,
                record.clone(),
                ex,
                effects,
                machine.name.clone(),
                test_case,
            );
        }
        Ok(record)
    }

    /// StartSyncExecution: runs an EXPRESS execution (of a machine or a version, chosen through
    /// `alias_arn` if any) to its end.
    pub async fn run_sync(
        &self,
        machine: &StateMachineRecord,
        execution_arn: String,
        name: String,
        input: ExecutionInput,
        test_case: Option<String>,
        alias_arn: Option<String>,
    ) -> Result<ExecutionRecord, EngineError> {
        let (input, input_value) = input.parse()?;
        let m = self.machine(machine)?;
        self.express(
            machine,
            m,
            execution_arn,
            name,
            input,
            input_value,
            test_case,
            alias_arn,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)] // the execution's identity travels together
    async fn express(
        &self,
        machine: &StateMachineRecord,
        m: Arc<StateMachine>,
        execution_arn: String,
        name: String,
        input: String,
        input_value: Value,
        test_case: Option<String>,
        alias_arn: Option<String>,
    ) -> Result<ExecutionRecord, EngineError> {
        let start = self.inner.clock.now_ms();
        let mut record = new_record(machine, &execution_arn, &name, &input, start, alias_arn);
        let settings = self.settings(machine, &execution_arn, &name);
        let finished = crate::run(
            m,
            input_value,
            Some(input.clone()),
            settings,
            test_case,
            Arc::clone(&self.inner.dispatcher),
            &self.inner.clock,
        )
        .await;
        let end = finished.end;
        record.status = closed_status(end.status);
        record.output = end.output.as_ref().map(Value::to_string);
        record.error = end
            .failure
            .as_ref()
            .map(|f| f.error.clone())
            .filter(|s| !s.is_empty());
        record.cause = end
            .failure
            .as_ref()
            .map(|f| f.cause.clone())
            .filter(|s| !s.is_empty());
        record.stop_ms = Some(self.inner.clock.now_ms());
        record.next_event_id = finished.history.len() as u64 + 1;
        self.retain(record.clone(), finished.history);
        self.inner.dispatcher.execution_ended(&record.arn);
        Ok(record)
    }

    /// Keeps (or updates) a recent EXPRESS execution, dropping the oldest over the retention.
    fn retain(&self, record: ExecutionRecord, events: Vec<HistoryEvent>) {
        let limit = self.inner.options.express_retention;
        lock(&self.inner.express).put(record, events, limit);
    }

    /// StopExecution.
    pub async fn stop(
        &self,
        execution_arn: &str,
        error: Option<String>,
        cause: Option<String>,
    ) -> Result<ExecutionRecord, EngineError> {
        let Some(record) = self.load(execution_arn).await? else {
            return Err(EngineError::ExecutionDoesNotExist(execution_arn.to_owned()));
        };
        if record.status != ExecutionStatus::Running {
            return Ok(record);
        }
        let sender = lock(&self.inner.running).remove(execution_arn);
        match sender {
            Some(tx) => {
                // The running loop commits the abort; wait until it has.
                let _ = tx.send((error, cause));
                for _ in 0..400 {
                    let r = self.load(execution_arn).await?;
                    if let Some(r) = r.filter(|r| r.status != ExecutionStatus::Running) {
                        return Ok(r);
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
                Ok(record)
            }
            None => {
                // Not running here (e.g. between restart and recovery): abort from the snapshot.
                let mut record = record;
                let now = self.inner.clock.now_ms();
                let snapshot = Snapshot::of(&record)
                    .ok_or_else(|| EngineError::ExecutionDoesNotExist(execution_arn.to_owned()))?;
                let mut ex = snapshot.execution;
                ex.abort(error, cause, now);
                let events = ex.take_events();
                update_record(
                    &mut record,
                    &ex,
                    &snapshot.machine,
                    &snapshot.test_case,
                    now,
                );
                let mut writes = vec![
                    Write::UpdateExecution(record.clone()),
                    Write::AppendEvents(event_records(execution_arn, events)),
                ];
                writes.extend(map_run_writes(execution_arn, ex.take_map_runs()));
                self.offload(&mut writes).await?;
                self.inner.store.commit(writes).await?;
                self.inner.dispatcher.execution_ended(execution_arn);
                self.status_changed(&record);
                Ok(record)
            }
        }
    }

    /// A STANDARD execution's record from the store, its large payloads resolved.
    pub(crate) async fn load(&self, arn: &str) -> Result<Option<ExecutionRecord>, EngineError> {
        let Some(mut record) = self.inner.store.execution(arn).await? else {
            return Ok(None);
        };
        if let Some(large) = &self.inner.options.large_payloads {
            large
                .resolve_record(&mut record)
                .await
                .map_err(large_payload_error)?;
        }
        Ok(Some(record))
    }

    /// Moves the large payloads of `writes` to their store (before the commit refers to them).
    pub(crate) async fn offload(&self, writes: &mut [Write]) -> Result<(), EngineError> {
        if let Some(large) = &self.inner.options.large_payloads {
            large.offload(writes).await.map_err(large_payload_error)?;
        }
        Ok(())
    }

    /// An execution: STANDARD from the store, EXPRESS from the recent ones kept in memory.
    pub async fn execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, EngineError> {
        if let Some(r) = self.load(arn).await? {
            return Ok(Some(r));
        }
        Ok(lock(&self.inner.express)
            .items
            .get(arn)
            .map(|(r, _)| r.clone()))
    }

    /// An execution's history page (`EventRecord.body` is the event's JSON).
    pub async fn history(
        &self,
        arn: &str,
        token: Option<&str>,
        limit: usize,
        reverse: bool,
    ) -> Result<Page<EventRecord>, EngineError> {
        if self.inner.store.execution(arn).await?.is_some() {
            let mut page = self
                .inner
                .store
                .events_page(arn, token, limit, reverse)
                .await?;
            if let Some(large) = &self.inner.options.large_payloads {
                large
                    .resolve_events(&mut page.items)
                    .await
                    .map_err(large_payload_error)?;
            }
            return Ok(page);
        }
        let retained = lock(&self.inner.express);
        let Some((_, events)) = retained.items.get(arn) else {
            return Err(EngineError::ExecutionDoesNotExist(arn.to_owned()));
        };
        let start: usize = match token {
            Some(t) => t.parse().map_err(|_| sluice_store::Error::InvalidToken)?,
            None => 0,
        };
        let limit = limit.max(1);
        let ordered: Box<dyn Iterator<Item = &HistoryEvent>> = if reverse {
            Box::new(events.iter().rev())
        } else {
            Box::new(events.iter())
        };
        let items: Vec<EventRecord> = event_records(arn, ordered.skip(start).take(limit).cloned());
        let next = (start + items.len() < events.len()).then(|| (start + items.len()).to_string());
        Ok(Page { items, next })
    }

    /// The definition an execution runs: its machine at the execution's own revision, even
    /// after the machine was updated or deleted; for an execution whose revision is unknown
    /// (recorded before the store kept revisions), the machine or version it was started from
    /// as it is now. `None` if neither can be found.
    pub async fn definition_of(
        &self,
        record: &ExecutionRecord,
    ) -> Result<Option<StateMachineRecord>, EngineError> {
        let store = &self.inner.store;
        if !record.revision_id.is_empty()
            && let Some(revision) = store
                .revision(record.machine_arn(), &record.revision_id)
                .await?
        {
            return Ok(Some(revision));
        }
        Ok(store.state_machine(&record.state_machine_arn).await?)
    }

    /// Resumes every RUNNING STANDARD execution from its snapshot, with the definition of its
    /// own revision ([`Engine::definition_of`]); returns how many.
    pub async fn recover(&self) -> Result<usize, EngineError> {
        let running = self.inner.store.running().await?;
        let mut resumed = 0;
        for mut record in running {
            if let Some(large) = &self.inner.options.large_payloads {
                large
                    .resolve_record(&mut record)
                    .await
                    .map_err(large_payload_error)?;
            }
            let Some(machine) = self.definition_of(&record).await? else {
                tracing::warn!(execution = %record.arn, "state machine gone; cannot resume");
                continue;
            };
            let Some(snapshot) = Snapshot::of(&record) else {
                tracing::warn!(execution = %record.arn, "no usable snapshot; cannot resume");
                continue;
            };
            let m = match self.machine(&machine) {
                Ok(m) => m,
                Err(error) => {
                    tracing::warn!(execution = %record.arn, %error, "cannot resume");
                    continue;
                }
            };
            let ex = snapshot.execution;
            let effects = ex.pending_effects();
            self.spawn_durable(m, record, ex, effects, snapshot.machine, snapshot.test_case);
            resumed += 1;
        }
        Ok(resumed)
    }

    fn spawn_durable(
        &self,
        machine: Arc<StateMachine>,
        record: ExecutionRecord,
        ex: Execution,
        effects: Vec<Effect>,
        machine_name: String,
        test_case: Option<String>,
    ) {
        let (stop_tx, stop_rx) = oneshot::channel();
        lock(&self.inner.running).insert(record.arn.clone(), stop_tx);
        let (callbacks_tx, callbacks_rx) = mpsc::unbounded_channel();
        lock(&self.inner.callbacks).insert(record.arn.clone(), callbacks_tx.clone());
        let engine = self.clone();
        self.inner.tasks.spawn("execution", async move {
            let arn = record.arn.clone();
            let signals = Signals {
                stop: stop_rx,
                callbacks: callbacks_rx,
            };
            if let Err(error) = engine
                .drive(
                    machine,
                    record,
                    ex,
                    effects,
                    machine_name,
                    test_case,
                    signals,
                )
                .await
            {
                tracing::error!(execution = %arn, %error, "execution paused; it resumes on restart");
            }
            {
                // Unless a redrive already runs the execution again.
                let mut callbacks = lock(&engine.inner.callbacks);
                if callbacks
                    .get(&arn)
                    .is_some_and(|c| c.same_channel(&callbacks_tx))
                {
                    callbacks.remove(&arn);
                }
            }
            lock(&engine.inner.running).remove(&arn);
            engine.inner.dispatcher.execution_ended(&arn);
        });
    }

    /// Commits one step of a running execution. While the store fails for a reason that may
    /// pass (a full disk, an I/O error), the step waits in memory and is committed again with
    /// backoff: nothing after it is performed before it is durable, and the execution carries
    /// on by itself once the store writes again.
    /// Sets who is told of STANDARD executions' status changes (once; a second call changes
    /// nothing).
    pub fn set_status_observer(&self, observer: Arc<dyn StatusObserver>) {
        let _ = self.inner.observer.set(observer);
    }

    fn status_changed(&self, record: &ExecutionRecord) {
        if let Some(observer) = self.inner.observer.get() {
            observer.status_changed(record);
        }
    }

    async fn commit_step(
        &self,
        execution: &str,
        mut writes: Vec<Write>,
    ) -> Result<(), EngineError> {
        let mut backoff = sluice_types::Backoff::new(
            std::time::Duration::from_millis(50),
            std::time::Duration::from_secs(2),
        );
        let mut paused = false;
        self.offload(&mut writes).await?;
        loop {
            match self.inner.store.commit_or_return(writes).await {
                Ok(()) => {
                    if paused {
                        tracing::info!(execution, "the store writes again; execution continues");
                    }
                    return Ok(());
                }
                Err((sluice_store::Error::Storage(reason), returned)) if !returned.is_empty() => {
                    writes = returned;
                    if !paused {
                        tracing::warn!(
                            execution,
                            %reason,
                            "cannot commit a step; retrying until the store writes again"
                        );
                        paused = true;
                    }
                    tokio::time::sleep(backoff.next_delay()).await;
                }
                Err((other, _)) => return Err(other.into()),
            }
        }
    }

    /// The durable loop: perform effects, wait for one outcome, step, commit, repeat.
    #[allow(clippy::too_many_arguments)] // the execution's identity travels together
    async fn drive(
        &self,
        machine: Arc<StateMachine>,
        mut record: ExecutionRecord,
        mut ex: Execution,
        mut effects: Vec<Effect>,
        machine_name: String,
        test_case: Option<String>,
        signals: Signals,
    ) -> Result<(), EngineError> {
        let Signals {
            mut stop,
            mut callbacks,
        } = signals;
        let clock = &self.inner.clock;
        let mut performer = Performer::new(
            Arc::clone(&self.inner.dispatcher),
            record.arn.clone(),
            machine_name.clone(),
            test_case.clone(),
            true,
        )
        .with_activities(Arc::clone(&self.inner.activities));
        // At shutdown the loop stops between steps: every committed step is durable, and
        // `recover` carries on from the last one.
        let mut shutdown = std::pin::pin!(self.inner.tasks.cancelled());
        loop {
            performer.perform(std::mem::take(&mut effects));
            // A callback that took: answered once its step is committed.
            let mut answer = None;
            let mut moved = Vec::new();
            tokio::select! {
                () = &mut shutdown => {
                    performer.abort();
                    return Ok(());
                }
                Ok((error, cause)) = &mut stop => ex.abort(error, cause, clock.now_ms()),
                Some(callback) = callbacks.recv() => {
                    match callback.signal.apply(&mut ex, &callback.token, clock.now_ms()) {
                        Ok(deadlines) => {
                            moved = deadlines;
                            answer = Some(callback.reply);
                        }
                        Err(error) => {
                            let _ = callback.reply.send(Err(error));
                        }
                    }
                }
                outcome = performer.next(&ex, clock) => {
                    if matches!(outcome, Outcome::Cancelled(_)) {
                        performer.abort();
                        return Ok(());
                    }
                    performer.apply(outcome, &mut ex, clock.now_ms());
                }
            }
            let now = clock.now_ms();
            effects = ex.advance(&machine, now);
            effects.append(&mut moved);
            let events = ex.take_events();
            let map_runs = ex.take_map_runs();
            // A heartbeat records no event but moves a deadline: its snapshot is committed.
            if events.is_empty() && map_runs.is_empty() && ex.end().is_none() && answer.is_none() {
                continue;
            }
            update_record(&mut record, &ex, &machine_name, &test_case, now);
            let mut writes = vec![Write::UpdateExecution(record.clone())];
            if !events.is_empty() {
                writes.push(Write::AppendEvents(event_records(&record.arn, events)));
            }
            writes.extend(map_run_writes(&record.arn, map_runs));
            self.commit_step(&record.arn, writes).await?;
            if let Some(answer) = answer {
                let _ = answer.send(Ok(()));
            }
            if ex.end().is_some() {
                performer.abort();
                self.status_changed(&record);
                return Ok(());
            }
        }
    }
}

/// A new RUNNING execution of `machine` (a machine or a version) at its current revision.
fn new_record(
    machine: &StateMachineRecord,
    arn: &str,
    name: &str,
    input: &str,
    now_ms: i64,
    alias_arn: Option<String>,
) -> ExecutionRecord {
    ExecutionRecord {
        arn: arn.to_owned(),
        state_machine_arn: machine.arn.clone(),
        name: name.to_owned(),
        status: ExecutionStatus::Running,
        input: input.to_owned(),
        output: None,
        error: None,
        cause: None,
        start_ms: now_ms,
        stop_ms: None,
        redrive_count: 0,
        snapshot: None,
        next_event_id: 1,
        revision_id: machine.revision_id.clone(),
        alias_arn,
        redrive_ms: None,
    }
}

/// A per-execution seed: reproducible runs of the same execution ARN.
fn seed_of(arn: &str) -> u64 {
    arn.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// A finished execution's status as the store keeps it.
fn closed_status(status: Status) -> ExecutionStatus {
    match status {
        Status::Succeeded => ExecutionStatus::Succeeded,
        Status::Failed => ExecutionStatus::Failed,
        Status::TimedOut => ExecutionStatus::TimedOut,
        Status::Aborted => ExecutionStatus::Aborted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(arn: &str, status: &str) -> ExecutionRecord {
        ExecutionRecord {
            arn: arn.into(),
            state_machine_arn: "m".into(),
            name: arn.into(),
            status: status.parse().unwrap(),
            input: "{}".into(),
            output: None,
            error: None,
            cause: None,
            start_ms: 0,
            stop_ms: None,
            redrive_count: 0,
            snapshot: None,
            next_event_id: 1,
            revision_id: String::new(),
            alias_arn: None,
            redrive_ms: None,
        }
    }

    #[test]
    fn retention_updates_in_place_and_drops_the_oldest() {
        let mut r = Retention::default();
        r.put(record("a", "RUNNING"), Vec::new(), 2);
        r.put(record("b", "RUNNING"), Vec::new(), 2);
        r.put(record("a", "SUCCEEDED"), Vec::new(), 2);
        assert_eq!(
            r.items["a"].0.status,
            ExecutionStatus::Succeeded,
            "updated, not duplicated"
        );
        r.put(record("c", "RUNNING"), Vec::new(), 2);
        assert!(!r.items.contains_key("a"), "the oldest goes first");
        assert!(r.items.contains_key("b") && r.items.contains_key("c"));
    }
}
