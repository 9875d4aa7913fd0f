//! Lambda event-source mappings from SQS queues and Kinesis streams: the control plane behind
//! Create/Get/Update/Delete/ListEventSourceMappings (AWS's defaults, validation, messages and
//! states), each mapping a record of the store's `resources` table (kind
//! [`KIND`], key the UUID, body the JSON [`Config`]), and the pollers that run them
//! ([`poller`]): receive from the queue (`sluice_broker`), invoke the function
//! (`sluice_functions`), delete what succeeded; for streams ([`stream_poller`]) one poller per
//! shard that reads from a durable checkpoint (kind [`CHECKPOINT_KIND`]).
//!
//! Pollers run on the mappings' own [`sluice_runtime::Tasks`], which `sluice serve` shuts down
//! before the functions and the queues.

pub(crate) mod event;
mod poller;
mod stream_poller;

pub(crate) use stream_poller::kinesis_record;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use sluice_api::ApiError;
use sluice_api::lambda::model::{
    CreateEventSourceMappingRequest, DeleteEventSourceMappingRequest, DestinationConfig,
    EventSourceMappingConfiguration, EventSourceMappingMetricsConfig, Filter, FilterCriteria,
    GetEventSourceMappingRequest, ListEventSourceMappingsRequest, ListEventSourceMappingsResponse,
    OnFailure, ProvisionedPollerConfig, ScalingConfig, UpdateEventSourceMappingRequest,
};
use sluice_broker::Broker;
use sluice_functions::{FunctionName, Functions, LATEST, LambdaArns as _};
use sluice_patterns::{Dialect, Pattern};
use sluice_store::{ResourceRecord, Store, Write};

use crate::queue_source::{BrokerSource, Source};
use crate::stream_source::StreamSource;
use sluice_types::{Arn, Scope};
use tokio::sync::watch;

/// The store's `resources` kind of a mapping.
pub const KIND: &str = "lambda-event-source-mapping";

/// The store's `resources` kind of a stream mapping's checkpoint: key `<uuid>/<shard>`, body
/// the place of the next record to deliver.
pub const CHECKPOINT_KIND: &str = "lambda-event-source-mapping-checkpoint";

/// Stream mappings' batch size when none is given, and their largest.
const DEFAULT_STREAM_BATCH_SIZE: u32 = 100;
const MAX_STREAM_BATCH_SIZE: u32 = 10_000;

/// AWS's default page of ListEventSourceMappings.
const PAGE_SIZE: usize = 100;

/// SQS mappings' batch size when none is given.
const DEFAULT_BATCH_SIZE: u32 = 10;

/// The largest batch without a batching window, and of any FIFO mapping.
const MAX_UNWINDOWED_BATCH: u32 = 10;

/// A mapping's settings, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Config {
    uuid: String,
    event_source_arn: String,
    /// As the mapping was given it: unqualified, or with the qualifier it named.
    function_arn: String,
    function_name: String,
    qualifier: Option<String>,
    batch_size: u32,
    window_seconds: u32,
    report_batch_item_failures: bool,
    maximum_concurrency: Option<u32>,
    /// The `FilterCriteria` patterns, `None` when none was given.
    filters: Option<Vec<String>>,
    enabled: bool,
    last_modified_ms: i64,
    /// Kept and shown as given (Sluice produces no CloudWatch metrics, runs no provisioned
    /// pollers and stores filters unencrypted), so that tools reading the mapping back see
    /// what they set.
    #[serde(default)]
    metrics_config: Option<EventSourceMappingMetricsConfig>,
    #[serde(default)]
    provisioned_poller_config: Option<ProvisionedPollerConfig>,
    #[serde(default)]
    kms_key_arn: Option<String>,
    /// Stream sources (Kinesis) only.
    #[serde(default)]
    stream: Option<StreamSettings>,
}

/// How a stream mapping starts and retries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StreamSettings {
    starting_position: String,
    starting_position_timestamp_ms: Option<i64>,
    /// -1: until the record expires.
    maximum_retry_attempts: i32,
    bisect_batch_on_function_error: bool,
    /// -1: no limit.
    maximum_record_age_seconds: i32,
    parallelization_factor: u32,
    /// A queue or topic ARN that gets a record of each batch given up on.
    #[serde(default)]
    on_failure: Option<String>,
    /// `TumblingWindowInSeconds`; 0: no window, no state carried between invocations.
    #[serde(default)]
    tumbling_window_seconds: u32,
}

impl Config {
    fn queue_name(&self) -> &str {
        Arn::parse(&self.event_source_arn).map_or("", |arn| arn.last_segment())
    }

    fn fifo(&self) -> bool {
        self.queue_name().ends_with(".fifo")
    }

    /// The region of the function, its ARN's.
    fn function_region(&self) -> &str {
        self.function_arn.split(':').nth(3).unwrap_or_default()
    }

    /// The functions of the function's region.
    fn functions(&self, functions: &Functions) -> Functions {
        functions.in_region(self.function_region())
    }
}

/// What the pollers of a mapping run by: its settings with the patterns compiled, and
/// whether it is deleted.
#[derive(Clone)]
pub(crate) struct Live {
    config: Arc<Config>,
    filters: Arc<Vec<Pattern>>,
    deleted: bool,
    /// A stream reader's destination in place of the function (a pipe's).
    sink: Option<Arc<dyn StreamSink>>,
}

/// Where a stream reader of another service delivers its batches in place of a function: a
/// pipe's enrichment and target.
pub(crate) trait StreamSink: Send + Sync + 'static {
    /// Delivers `records`, in order.
    fn deliver<'a>(
        &'a self,
        records: &'a [sluice_streams::ReadRecord],
    ) -> crate::queue_source::BoxFuture<'a, SinkOutcome>;
}

/// What a [`StreamSink`] made of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SinkOutcome {
    All,
    /// Everything before the record with this sequence number.
    FailedFrom(String),
    /// Nothing, and why.
    Failed(String),
}

/// How a stream reader of another service (a pipe) reads its stream: the settings of a stream
/// mapping, with its own checkpoints, retries, bisection and on-failure destination.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StreamReading {
    pub(crate) source_arn: String,
    pub(crate) batch_size: u32,
    pub(crate) window_seconds: u32,
    /// `FilterCriteria` patterns, as given.
    pub(crate) filters: Option<Vec<String>>,
    pub(crate) starting_position: String,
    pub(crate) starting_position_timestamp_ms: Option<i64>,
    pub(crate) maximum_retry_attempts: i32,
    pub(crate) bisect: bool,
    pub(crate) maximum_record_age_seconds: i32,
    pub(crate) parallelization_factor: u32,
    pub(crate) on_failure: Option<String>,
}

impl Live {
    fn new(config: Config) -> Self {
        let filters = config
            .filters
            .iter()
            .flatten()
            .filter_map(|text| Pattern::parse(text, Dialect::EventSourceMapping).ok())
            .collect();
        Self {
            config: Arc::new(config),
            filters: Arc::new(filters),
            deleted: false,
            sink: None,
        }
    }

    fn active(&self) -> bool {
        self.config.enabled && !self.deleted
    }
}

/// One mapping: its settings, its state as AWS reports it, and its pollers' counters.
pub(crate) struct Mapping {
    live: watch::Sender<Live>,
    state: Mutex<&'static str>,
    /// Pollers running.
    pollers: AtomicUsize,
    /// Invocation slots the pollers hold (at most the mapping's concurrency): reserved before
    /// a receive, one per batch it may turn into.
    slots: AtomicUsize,
    /// Signalled when slots are given back.
    slot_freed: tokio::sync::Notify,
    invoking: AtomicUsize,
    peak_invoking: AtomicUsize,
    /// How long an invocation takes, a moving average in microseconds (0: none yet).
    invoke_micros: AtomicU64,
    peak_pollers: AtomicUsize,
    /// Stream mappings: the (shard, slot) pollers running.
    stream_pollers: Mutex<std::collections::BTreeSet<(u32, u32)>>,
    batches: AtomicU64,
    delivered: AtomicU64,
    deleted: AtomicU64,
    filtered: AtomicU64,
    failed_batches: AtomicU64,
}

impl Mapping {
    fn new(config: Config) -> Self {
        let state = if config.enabled {
            "Enabled"
        } else {
            "Disabled"
        };
        Self {
            live: watch::channel(Live::new(config)).0,
            state: Mutex::new(state),
            pollers: AtomicUsize::new(0),
            slots: AtomicUsize::new(0),
            slot_freed: tokio::sync::Notify::new(),
            invoking: AtomicUsize::new(0),
            peak_invoking: AtomicUsize::new(0),
            invoke_micros: AtomicU64::new(0),
            peak_pollers: AtomicUsize::new(0),
            stream_pollers: Mutex::default(),
            batches: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            deleted: AtomicU64::new(0),
            filtered: AtomicU64::new(0),
            failed_batches: AtomicU64::new(0),
        }
    }

    fn config(&self) -> Arc<Config> {
        Arc::clone(&self.live.borrow().config)
    }

    fn state(&self) -> MutexGuard<'_, &'static str> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One mapping's counters since the server started (`/sluice/mappings`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MappingStats {
    pub uuid: String,
    pub event_source_arn: String,
    pub function_arn: String,
    pub state: String,
    pub pollers: usize,
    pub peak_pollers: usize,
    pub invoking: usize,
    pub peak_invoking: usize,
    pub batches: u64,
    pub delivered: u64,
    pub deleted: u64,
    pub filtered: u64,
    pub failed_batches: u64,
}

/// The event-source mappings of a server. Cheap to clone.
#[derive(Clone)]
pub struct Mappings {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    source: Arc<dyn Source>,
    streams: Option<Arc<dyn StreamSource>>,
    /// Stream mappings' checkpoints by `<uuid>/<shard>`, as committed.
    checkpoints: Mutex<std::collections::HashMap<String, u64>>,
    /// The tumbling windows open at those checkpoints, as committed with them.
    windows: Mutex<std::collections::HashMap<String, stream_poller::OpenWindow>>,
    functions: Functions,
    scope: Scope,
    tasks: sluice_runtime::Tasks,
    mappings: Mutex<BTreeMap<String, Arc<Mapping>>>,
    /// Stream readers of other services (pipes) by id: not event-source mappings of the API.
    readers: Mutex<BTreeMap<String, Arc<Mapping>>>,
    /// Held across a change's checks and commit, so two creates cannot both pass the
    /// duplicate check.
    changes: tokio::sync::Mutex<()>,
}

impl Inner {
    fn mappings(&self) -> MutexGuard<'_, BTreeMap<String, Arc<Mapping>>> {
        self.mappings.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn checkpoints(&self) -> MutexGuard<'_, std::collections::HashMap<String, u64>> {
        self.checkpoints.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn windows(
        &self,
    ) -> MutexGuard<'_, std::collections::HashMap<String, stream_poller::OpenWindow>> {
        self.windows.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The deletes of the checkpoints of `id` (a mapping's UUID, a reader's id).
    fn checkpoint_deletes(&self, id: &str) -> Vec<Write> {
        let prefix = format!("{id}/");
        self.checkpoints()
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .map(|key| Write::DeleteResource {
                kind: CHECKPOINT_KIND.into(),
                key: key.clone(),
            })
            .collect()
    }

    /// Forgets the checkpoints of `id` once their deletes are committed.
    fn forget_checkpoints(&self, id: &str) {
        let prefix = format!("{id}/");
        self.checkpoints().retain(|k, _| !k.starts_with(&prefix));
        self.windows().retain(|k, _| !k.starts_with(&prefix));
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidParameterValueException", message)
}

fn not_found() -> ApiError {
    ApiError::new(
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    )
    .with_status(404)
}

fn function_error(error: sluice_functions::Error) -> ApiError {
    ApiError::new(error.code(), error.to_string()).with_status(error.status())
}

impl Mappings {
    /// The mappings the store holds, loaded; their pollers start with [`Mappings::resume`].
    pub async fn open<S: Store>(
        store: S,
        broker: Broker<S>,
        streams: sluice_streams::Streams<S>,
        functions: Functions,
        scope: Scope,
    ) -> Result<Self, sluice_store::Error> {
        let mut checkpoints = std::collections::HashMap::new();
        let mut windows = std::collections::HashMap::new();
        for record in store.resources(CHECKPOINT_KIND).await? {
            let Some((next, window)) = stream_poller::parse_checkpoint(&record.body) else {
                tracing::warn!(key = %record.key, "unreadable stream mapping checkpoint skipped");
                continue;
            };
            if let Some(window) = window {
                windows.insert(record.key.clone(), window);
            }
            checkpoints.insert(record.key, next);
        }
        let mut mappings = BTreeMap::new();
        for record in store.resources(KIND).await? {
            match serde_json::from_slice::<Config>(&record.body) {
                Ok(config) => {
                    mappings.insert(record.key, Arc::new(Mapping::new(config)));
                }
                Err(error) => {
                    tracing::warn!(key = %record.key, %error, "unreadable event-source mapping skipped");
                }
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                source: Arc::new(BrokerSource::new(broker, store)),
                streams: Some(Arc::new(streams)),
                checkpoints: Mutex::new(checkpoints),
                windows: Mutex::new(windows),
                functions,
                scope,
                tasks: sluice_runtime::Tasks::new("mappings"),
                mappings: Mutex::new(mappings),
                readers: Mutex::default(),
                changes: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// Whether `arn` is a stream of this server.
    pub(crate) fn stream_exists(&self, arn: &str) -> bool {
        self.inner
            .streams
            .as_ref()
            .and_then(|s| s.stream_arn(stream_name(arn)))
            .is_some_and(|found| found == arn)
    }

    /// Runs the stream reader `id` (or moves it to new settings and sink): the pollers of a
    /// stream mapping, delivering to `sink`, with checkpoints kept under `id`.
    pub(crate) fn run_reader(&self, id: &str, reading: &StreamReading, sink: Arc<dyn StreamSink>) {
        let config = Config {
            uuid: id.to_owned(),
            event_source_arn: reading.source_arn.clone(),
            function_arn: String::new(),
            function_name: String::new(),
            qualifier: None,
            batch_size: reading.batch_size,
            window_seconds: reading.window_seconds,
            report_batch_item_failures: true,
            maximum_concurrency: None,
            filters: reading.filters.clone(),
            enabled: true,
            last_modified_ms: self.now_ms(),
            metrics_config: None,
            provisioned_poller_config: None,
            kms_key_arn: None,
            stream: Some(StreamSettings {
                starting_position: reading.starting_position.clone(),
                starting_position_timestamp_ms: reading.starting_position_timestamp_ms,
                maximum_retry_attempts: reading.maximum_retry_attempts,
                bisect_batch_on_function_error: reading.bisect,
                maximum_record_age_seconds: reading.maximum_record_age_seconds,
                parallelization_factor: reading.parallelization_factor,
                on_failure: reading.on_failure.clone(),
                tumbling_window_seconds: 0,
            }),
        };
        let mut live = Live::new(config.clone());
        live.sink = Some(sink);
        let mapping = {
            let mut readers = self.inner.readers.lock().unwrap_or_else(|e| e.into_inner());
            match readers.get(id) {
                Some(mapping) => {
                    mapping.live.send_replace(live);
                    Arc::clone(mapping)
                }
                None => {
                    let mapping = Arc::new(Mapping::new(config));
                    mapping.live.send_replace(live);
                    readers.insert(id.to_owned(), Arc::clone(&mapping));
                    mapping
                }
            }
        };
        stream_poller::start(&self.inner, &mapping);
    }

    /// Stops the reader `id`'s pollers (after the batch in flight); its checkpoints stay, and
    /// [`Mappings::run_reader`] resumes from them. `forget`: its checkpoints go too.
    pub(crate) async fn stop_reader(&self, id: &str, forget: bool) {
        let mapping = self
            .inner
            .readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned();
        if let Some(mapping) = mapping {
            mapping.live.send_modify(|live| {
                let mut config = (*live.config).clone();
                config.enabled = false;
                live.config = Arc::new(config);
                live.deleted = forget;
            });
        }
        if !forget {
            return;
        }
        self.inner
            .readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        let writes = self.inner.checkpoint_deletes(id);
        if let Err(error) = self.inner.source.commit(writes).await {
            tracing::warn!(%error, id, "cannot forget a stream reader's checkpoints");
        }
        self.inner.forget_checkpoints(id);
    }

    /// Starts the pollers of every enabled mapping; returns how many.
    pub fn resume(&self) -> usize {
        let all: Vec<Arc<Mapping>> = self.inner.mappings().values().cloned().collect();
        let mut started = 0;
        for mapping in all {
            if mapping.live.borrow().active() {
                start(&self.inner, &mapping);
                started += 1;
            }
        }
        started
    }

    /// The pollers, for an orderly shutdown.
    pub fn tasks(&self) -> &sluice_runtime::Tasks {
        &self.inner.tasks
    }

    /// Every mapping's counters, by UUID.
    pub fn stats(&self) -> Vec<MappingStats> {
        self.inner
            .mappings()
            .values()
            .map(|m| {
                let config = m.config();
                MappingStats {
                    uuid: config.uuid.clone(),
                    event_source_arn: config.event_source_arn.clone(),
                    function_arn: config.function_arn.clone(),
                    state: (*m.state()).to_owned(),
                    pollers: m.pollers.load(Ordering::Relaxed),
                    peak_pollers: m.peak_pollers.load(Ordering::Relaxed),
                    invoking: m.invoking.load(Ordering::Relaxed),
                    peak_invoking: m.peak_invoking.load(Ordering::Relaxed),
                    batches: m.batches.load(Ordering::Relaxed),
                    delivered: m.delivered.load(Ordering::Relaxed),
                    deleted: m.deleted.load(Ordering::Relaxed),
                    filtered: m.filtered.load(Ordering::Relaxed),
                    failed_batches: m.failed_batches.load(Ordering::Relaxed),
                }
            })
            .collect()
    }

    fn now_ms(&self) -> i64 {
        self.inner.source.clock().now_ms()
    }

    /// The function `input` names (name, partial or full ARN, with a qualifier): its name,
    /// qualifier and the ARN the mapping reports (the qualifier kept), in its region.
    fn function(&self, input: &str) -> Result<(String, Option<String>, String), ApiError> {
        let Some(named) = FunctionName::parse(input) else {
            return Err(invalid("Function does not exist"));
        };
        let functions = crate::lambda::functions_of(&self.inner.functions, &named);
        let FunctionName {
            name, qualifier, ..
        } = named;
        if functions.get(&name).is_err() {
            return Err(invalid("Function does not exist"));
        }
        let arn = match &qualifier {
            Some(q) => {
                if q != LATEST {
                    functions.resolve(&name, Some(q)).map_err(function_error)?;
                }
                functions.scope().qualified_arn(&name, q)
            }
            None => functions.arn(&name),
        };
        Ok((name, qualifier, arn))
    }

    /// The queue name of an SQS event source, or AWS's refusal.
    fn queue(&self, arn: &str) -> Result<(), ApiError> {
        let name = Arn::parse(arn).map_or("", |arn| arn.last_segment());
        match self.inner.source.queue_arn(name) {
            Some(found) if found == arn => Ok(()),
            _ => Err(invalid(
                "Error occurred while ReceiveMessage. SQS Error Code: \
                 AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified \
                 queue does not exist.",
            )),
        }
    }

    fn configuration(&self, config: &Config, state: &str) -> EventSourceMappingConfiguration {
        EventSourceMappingConfiguration {
            uuid: Some(config.uuid.clone()),
            batch_size: Some(config.batch_size as i32),
            maximum_batching_window_in_seconds: Some(config.window_seconds as i32),
            event_source_arn: Some(config.event_source_arn.clone()),
            // In its function's region, where it was created.
            event_source_mapping_arn: Some(
                Scope::new(config.function_region(), self.inner.scope.account.clone())
                    .arn("lambda", &format!("event-source-mapping:{}", config.uuid)),
            ),
            function_arn: Some(config.function_arn.clone()),
            function_response_types: Some(if config.report_batch_item_failures {
                vec!["ReportBatchItemFailures".into()]
            } else {
                Vec::new()
            }),
            filter_criteria: config.filters.as_ref().map(|filters| FilterCriteria {
                filters: Some(
                    filters
                        .iter()
                        .map(|p| Filter {
                            pattern: Some(p.clone()),
                        })
                        .collect(),
                ),
            }),
            scaling_config: config.maximum_concurrency.map(|n| ScalingConfig {
                maximum_concurrency: Some(n as i32),
            }),
            metrics_config: config.metrics_config.clone(),
            provisioned_poller_config: config.provisioned_poller_config.clone(),
            kms_key_arn: config.kms_key_arn.clone(),
            starting_position: config.stream.as_ref().map(|s| s.starting_position.clone()),
            starting_position_timestamp: config
                .stream
                .as_ref()
                .and_then(|s| s.starting_position_timestamp_ms)
                .map(|ms| ms as f64 / 1000.0),
            maximum_retry_attempts: config.stream.as_ref().map(|s| s.maximum_retry_attempts),
            bisect_batch_on_function_error: config
                .stream
                .as_ref()
                .map(|s| s.bisect_batch_on_function_error),
            maximum_record_age_in_seconds: config
                .stream
                .as_ref()
                .map(|s| s.maximum_record_age_seconds),
            parallelization_factor: config
                .stream
                .as_ref()
                .map(|s| s.parallelization_factor as i32),
            tumbling_window_in_seconds: config
                .stream
                .as_ref()
                .map(|s| s.tumbling_window_seconds as i32),
            destination_config: config.stream.as_ref().map(|s| DestinationConfig {
                on_success: None,
                on_failure: Some(OnFailure {
                    destination: s.on_failure.clone(),
                }),
            }),
            last_modified: Some(config.last_modified_ms as f64 / 1000.0),
            state: Some(state.to_owned()),
            state_transition_reason: Some("USER_INITIATED".into()),
            ..EventSourceMappingConfiguration::default()
        }
    }

    async fn persist(&self, config: &Config) -> Result<(), ApiError> {
        let body = serde_json::to_vec(config).unwrap_or_default();
        self.inner
            .source
            .commit(vec![Write::PutResource(ResourceRecord {
                kind: KIND.into(),
                key: config.uuid.clone(),
                body,
            })])
            .await
            .map_err(|e| ApiError::new("ServiceException", e.to_string()).with_status(500))
    }

    /// AWS's conflict when a mapping of `source` to `function_arn` exists.
    fn check_unique(
        &self,
        source: &str,
        function_arn: &str,
        function_name: &str,
    ) -> Result<(), ApiError> {
        let duplicate = self
            .inner
            .mappings()
            .values()
            .map(|m| m.config())
            .find(|c| c.event_source_arn == source && c.function_arn == function_arn);
        match duplicate {
            Some(existing) => Err(ApiError::new(
                "ResourceConflictException",
                format!(
                    "An event source mapping with SQS arn (\" {source} \") and function \
                     (\" {function_name} \") already exists. Please update or delete the \
                     existing mapping with UUID {}",
                    existing.uuid
                ),
            )
            .with_status(409)),
            None => Ok(()),
        }
    }

    fn mapping(&self, uuid: &str) -> Result<Arc<Mapping>, ApiError> {
        self.inner
            .mappings()
            .get(uuid)
            .cloned()
            .ok_or_else(not_found)
    }

    pub async fn create(
        &self,
        input: CreateEventSourceMappingRequest,
    ) -> Result<EventSourceMappingConfiguration, ApiError> {
        let Some(source) = input.event_source_arn.clone() else {
            return Err(invalid("Unrecognized event source."));
        };
        if is_kinesis_arn(&source) {
            return self.create_for_stream(input, source).await;
        }
        if input.destination_config.is_some() {
            return Err(invalid(
                "Unsupported DestinationConfig parameter for given event source mapping type.",
            ));
        }
        if !is_sqs_arn(&source) {
            return Err(invalid(
                "Unrecognized event source. Sluice maps SQS queues and Kinesis streams \
             (arn:aws:sqs:..., arn:aws:kinesis:...:stream/...).",
            ));
        }
        let unsupported = [
            ("StartingPosition", input.starting_position.is_some()),
            (
                "StartingPositionTimestamp",
                input.starting_position_timestamp.is_some(),
            ),
            (
                "ParallelizationFactor",
                input.parallelization_factor.is_some(),
            ),
            (
                "MaximumRecordAgeInSeconds",
                input.maximum_record_age_in_seconds.is_some(),
            ),
            (
                "BisectBatchOnFunctionError",
                input.bisect_batch_on_function_error.is_some(),
            ),
            (
                "MaximumRetryAttempts",
                input.maximum_retry_attempts.is_some(),
            ),
            (
                "TumblingWindowInSeconds",
                input.tumbling_window_in_seconds.is_some(),
            ),
            ("Topics", input.topics.is_some()),
            ("Queues", input.queues.is_some()),
        ];
        if let Some((name, _)) = unsupported.iter().find(|(_, given)| *given) {
            return Err(invalid(format!(
                "Unsupported {name} parameter for given event source mapping type."
            )));
        }
        let fifo = source.ends_with(".fifo");
        let batch_size = input.batch_size.map_or(DEFAULT_BATCH_SIZE, |n| n as u32);
        let window_seconds = input.maximum_batching_window_in_seconds.unwrap_or(0) as u32;
        check_batching(fifo, batch_size, window_seconds)?;
        let filters = filters(input.filter_criteria.as_ref())?;
        let (function_name, qualifier, function_arn) = self.function(&input.function_name)?;
        self.queue(&source)?;
        let _change = self.inner.changes.lock().await;
        self.check_unique(&source, &function_arn, &function_name)?;
        let config = Config {
            uuid: sluice_functions::uuid_v4(),
            event_source_arn: source,
            function_arn,
            function_name,
            qualifier,
            batch_size,
            window_seconds,
            report_batch_item_failures: response_types(input.function_response_types.as_deref()),
            maximum_concurrency: input
                .scaling_config
                .as_ref()
                .and_then(|s| s.maximum_concurrency)
                .map(|n| n as u32),
            filters,
            enabled: input.enabled.unwrap_or(true),
            last_modified_ms: self.now_ms(),
            metrics_config: input.metrics_config.clone(),
            provisioned_poller_config: input.provisioned_poller_config.clone(),
            kms_key_arn: input.kms_key_arn.clone(),
            stream: None,
        };
        self.install(config).await
    }

    /// A Kinesis stream → function mapping: AWS's rules for stream sources.
    async fn create_for_stream(
        &self,
        input: CreateEventSourceMappingRequest,
        source: String,
    ) -> Result<EventSourceMappingConfiguration, ApiError> {
        let unsupported = [
            ("Topics", input.topics.is_some()),
            ("Queues", input.queues.is_some()),
            ("ScalingConfig", input.scaling_config.is_some()),
        ];
        if let Some((name, _)) = unsupported.iter().find(|(_, given)| *given) {
            return Err(invalid(format!(
                "Unsupported {name} parameter for given event source mapping type."
            )));
        }
        let starting_position = input.starting_position.clone().ok_or_else(|| {
            invalid("1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null.")
        })?;
        if !matches!(
            starting_position.as_str(),
            "TRIM_HORIZON" | "LATEST" | "AT_TIMESTAMP"
        ) {
            return Err(invalid(format!(
                "Unsupported starting position {starting_position} for a Kinesis stream."
            )));
        }
        let timestamp = input
            .starting_position_timestamp
            .map(|t| (t * 1000.0) as i64);
        if (starting_position == "AT_TIMESTAMP") != timestamp.is_some() {
            return Err(invalid(
                "StartingPositionTimestamp must be given with, and only with, StartingPosition AT_TIMESTAMP.",
            ));
        }
        let batch_size = input
            .batch_size
            .map_or(DEFAULT_STREAM_BATCH_SIZE, |n| n as u32);
        if !(1..=MAX_STREAM_BATCH_SIZE).contains(&batch_size) {
            return Err(invalid(format!(
                "BatchSize must be between 1 and {MAX_STREAM_BATCH_SIZE} for a Kinesis stream."
            )));
        }
        let window_seconds = input.maximum_batching_window_in_seconds.unwrap_or(0) as u32;
        let age = input.maximum_record_age_in_seconds.unwrap_or(-1);
        if age != -1 && !(60..=604_800).contains(&age) {
            return Err(invalid(
                "MaximumRecordAgeInSeconds must be -1 or between 60 and 604800.",
            ));
        }
        let parallelization_factor = input.parallelization_factor.unwrap_or(1) as u32;
        let filters = filters(input.filter_criteria.as_ref())?;
        let (function_name, qualifier, function_arn) = self.function(&input.function_name)?;
        let exists = self.stream_exists(stream_arn(&source))
            && (stream_arn(&source) == source
                || self
                    .inner
                    .streams
                    .as_ref()
                    .is_some_and(|s| s.consumer_arns(stream_name(&source)).contains(&source)));
        if !exists {
            return Err(invalid(format!("Stream not found: {source}")));
        }
        let _change = self.inner.changes.lock().await;
        self.check_unique(&source, &function_arn, &function_name)?;
        let config = Config {
            uuid: sluice_functions::uuid_v4(),
            event_source_arn: source,
            function_arn,
            function_name,
            qualifier,
            batch_size,
            window_seconds,
            report_batch_item_failures: response_types(input.function_response_types.as_deref()),
            maximum_concurrency: None,
            filters,
            enabled: input.enabled.unwrap_or(true),
            last_modified_ms: self.now_ms(),
            metrics_config: input.metrics_config.clone(),
            provisioned_poller_config: input.provisioned_poller_config.clone(),
            kms_key_arn: input.kms_key_arn.clone(),
            stream: Some(StreamSettings {
                starting_position,
                starting_position_timestamp_ms: timestamp,
                maximum_retry_attempts: input.maximum_retry_attempts.unwrap_or(-1),
                bisect_batch_on_function_error: input
                    .bisect_batch_on_function_error
                    .unwrap_or(false),
                maximum_record_age_seconds: age,
                parallelization_factor,
                on_failure: self.on_failure(input.destination_config.as_ref())?,
                tumbling_window_seconds: input.tumbling_window_in_seconds.unwrap_or(0) as u32,
            }),
        };
        self.install(config).await
    }

    /// A stream mapping's on-failure destination: an existing queue or topic (an empty
    /// destination removes it).
    fn on_failure(&self, config: Option<&DestinationConfig>) -> Result<Option<String>, ApiError> {
        if config.is_some_and(|c| c.on_success.is_some()) {
            return Err(invalid(
                "Unsupported OnSuccess destination for given event source mapping type.",
            ));
        }
        let Some(arn) = config
            .and_then(|c| c.on_failure.as_ref())
            .and_then(|f| f.destination.clone())
            .filter(|arn| !arn.is_empty())
        else {
            return Ok(None);
        };
        if !self.inner.source.destination_exists(&arn) {
            return Err(invalid(format!(
                "The OnFailure destination {arn} is not an existing SQS queue or SNS topic."
            )));
        }
        Ok(Some(arn))
    }

    /// Stores a new mapping and starts its pollers.
    async fn install(&self, config: Config) -> Result<EventSourceMappingConfiguration, ApiError> {
        self.persist(&config).await?;
        let state = if config.enabled {
            "Creating"
        } else {
            "Disabled"
        };
        let answer = self.configuration(&config, state);
        let mapping = Arc::new(Mapping::new(config.clone()));
        self.inner
            .mappings()
            .insert(config.uuid.clone(), Arc::clone(&mapping));
        if config.enabled {
            start(&self.inner, &mapping);
        }
        Ok(answer)
    }

    pub fn get(
        &self,
        input: &GetEventSourceMappingRequest,
    ) -> Result<EventSourceMappingConfiguration, ApiError> {
        let mapping = self.mapping(&input.uuid)?;
        let state = *mapping.state();
        Ok(self.configuration(&mapping.config(), state))
    }

    pub async fn update(
        &self,
        input: UpdateEventSourceMappingRequest,
    ) -> Result<EventSourceMappingConfiguration, ApiError> {
        let mapping = self.mapping(&input.uuid)?;
        let streaming = mapping.config().stream.is_some();
        if input.destination_config.is_some() && !streaming {
            return Err(invalid(
                "Unsupported DestinationConfig parameter for given event source mapping type.",
            ));
        }
        let unsupported = [
            (
                "ParallelizationFactor",
                input.parallelization_factor.is_some(),
            ),
            (
                "MaximumRecordAgeInSeconds",
                input.maximum_record_age_in_seconds.is_some(),
            ),
            (
                "BisectBatchOnFunctionError",
                input.bisect_batch_on_function_error.is_some(),
            ),
            (
                "MaximumRetryAttempts",
                input.maximum_retry_attempts.is_some(),
            ),
            (
                "TumblingWindowInSeconds",
                input.tumbling_window_in_seconds.is_some(),
            ),
        ];
        if let Some((name, _)) = unsupported.iter().find(|(_, given)| *given && !streaming) {
            return Err(invalid(format!(
                "Unsupported {name} parameter for given event source mapping type."
            )));
        }
        let _change = self.inner.changes.lock().await;
        let old = mapping.config();
        let mut config = (*old).clone();
        if let Some(n) = input.batch_size {
            config.batch_size = n as u32;
        }
        if let Some(n) = input.maximum_batching_window_in_seconds {
            config.window_seconds = n as u32;
        }
        if let Some(settings) = config.stream.as_mut() {
            if !(1..=MAX_STREAM_BATCH_SIZE).contains(&config.batch_size) {
                return Err(invalid(format!(
                    "BatchSize must be between 1 and {MAX_STREAM_BATCH_SIZE} for a Kinesis stream."
                )));
            }
            if let Some(n) = input.maximum_retry_attempts {
                settings.maximum_retry_attempts = n;
            }
            if let Some(b) = input.bisect_batch_on_function_error {
                settings.bisect_batch_on_function_error = b;
            }
            if let Some(n) = input.maximum_record_age_in_seconds {
                settings.maximum_record_age_seconds = n;
            }
            if let Some(n) = input.parallelization_factor {
                settings.parallelization_factor = n as u32;
            }
            if let Some(n) = input.tumbling_window_in_seconds {
                settings.tumbling_window_seconds = n as u32;
            }
            if input.destination_config.is_some() {
                settings.on_failure = self.on_failure(input.destination_config.as_ref())?;
            }
        } else {
            check_batching(config.fifo(), config.batch_size, config.window_seconds)?;
        }
        if let Some(criteria) = &input.filter_criteria {
            // `FilterCriteria: {}` (or no filters) removes the filters.
            config.filters = filters(Some(criteria))?.filter(|f| !f.is_empty());
        }
        if let Some(function) = &input.function_name {
            let (name, qualifier, arn) = self.function(function)?;
            if arn != old.function_arn {
                self.check_unique(&config.event_source_arn, &arn, &name)?;
            }
            config.function_name = name;
            config.qualifier = qualifier;
            config.function_arn = arn;
        }
        if let Some(types) = &input.function_response_types {
            config.report_batch_item_failures = response_types(Some(types));
        }
        if let Some(scaling) = &input.scaling_config {
            config.maximum_concurrency = scaling.maximum_concurrency.map(|n| n as u32);
        }
        if let Some(enabled) = input.enabled {
            config.enabled = enabled;
        }
        if let Some(metrics) = &input.metrics_config {
            config.metrics_config = Some(metrics.clone());
        }
        if let Some(pollers) = &input.provisioned_poller_config {
            config.provisioned_poller_config = Some(pollers.clone());
        }
        if let Some(key) = &input.kms_key_arn {
            config.kms_key_arn = (!key.is_empty()).then(|| key.clone());
        }
        config.last_modified_ms = self.now_ms();
        self.persist(&config).await?;
        let answer_state = {
            let mut state = mapping.state();
            let answer = match (old.enabled, config.enabled) {
                (false, true) => "Enabling",
                (true, false) => "Disabling",
                _ => "Updating",
            };
            *state = if config.enabled {
                "Enabled"
            } else if mapping.pollers.load(Ordering::Acquire) > 0 {
                // The last poller to stop says Disabled.
                "Disabling"
            } else {
                "Disabled"
            };
            answer
        };
        let answer = self.configuration(&config, answer_state);
        mapping
            .live
            .send_modify(|live| *live = Live::new(config.clone()));
        if config.enabled {
            start(&self.inner, &mapping);
        }
        Ok(answer)
    }

    pub async fn delete(
        &self,
        input: &DeleteEventSourceMappingRequest,
    ) -> Result<EventSourceMappingConfiguration, ApiError> {
        let _change = self.inner.changes.lock().await;
        let mapping = self.mapping(&input.uuid)?;
        let mut writes = vec![Write::DeleteResource {
            kind: KIND.into(),
            key: input.uuid.clone(),
        }];
        writes.extend(self.inner.checkpoint_deletes(&input.uuid));
        self.inner
            .source
            .commit(writes)
            .await
            .map_err(|e| ApiError::new("ServiceException", e.to_string()).with_status(500))?;
        self.inner.mappings().remove(&input.uuid);
        self.inner.forget_checkpoints(&input.uuid);
        *mapping.state() = "Deleting";
        mapping.live.send_modify(|live| live.deleted = true);
        Ok(self.configuration(&mapping.config(), "Deleting"))
    }

    pub fn list(
        &self,
        input: &ListEventSourceMappingsRequest,
    ) -> Result<ListEventSourceMappingsResponse, ApiError> {
        let function = match &input.function_name {
            Some(given) => {
                let named = FunctionName::parse(given)
                    .ok_or_else(|| invalid(format!("Invalid function name: {given}")))?;
                let region = crate::lambda::functions_of(&self.inner.functions, &named)
                    .region()
                    .to_owned();
                Some((region, named.name, named.qualifier))
            }
            None => None,
        };
        let all: Vec<(Arc<Config>, &'static str)> = self
            .inner
            .mappings()
            .values()
            .map(|m| (m.config(), *m.state()))
            .filter(|(c, _)| {
                input
                    .event_source_arn
                    .as_ref()
                    .is_none_or(|arn| *arn == c.event_source_arn)
            })
            .filter(|(c, _)| {
                function.as_ref().is_none_or(|(region, name, qualifier)| {
                    *name == c.function_name
                        && region == c.function_region()
                        && qualifier
                            .as_ref()
                            .is_none_or(|q| Some(q) == c.qualifier.as_ref())
                })
            })
            .collect();
        let size = input
            .max_items
            .map_or(PAGE_SIZE, |n| (n.max(1) as usize).min(PAGE_SIZE));
        // The marker is the UUID of the previous page's last mapping (listed by UUID).
        let start = match &input.marker {
            Some(marker) => all.partition_point(|(c, _)| c.uuid.as_str() <= marker.as_str()),
            None => 0,
        };
        let page: Vec<_> = all[start..].iter().take(size).collect();
        let next_marker = (start + page.len() < all.len())
            .then(|| page.last().map(|(c, _)| c.uuid.clone()))
            .flatten();
        Ok(ListEventSourceMappingsResponse {
            event_source_mappings: Some(
                page.iter()
                    .map(|(c, state)| self.configuration(c, state))
                    .collect(),
            ),
            next_marker,
        })
    }
}

/// Starts the pollers of a mapping by its source's kind.
fn start(inner: &Arc<Inner>, mapping: &Arc<Mapping>) {
    if mapping.config().stream.is_some() {
        stream_poller::start(inner, mapping);
    } else {
        poller::start(inner, mapping);
    }
}

/// A Kinesis stream ARN's stream name (empty for anything else).
/// The stream a stream ARN or one of its consumers' ARNs names.
fn stream_name(arn: &str) -> &str {
    Arn::parse(arn)
        .ok()
        .and_then(|arn| arn.resource.strip_prefix("stream/"))
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
}

/// The stream's ARN of a stream ARN or of one of its consumers' ARNs (an enhanced fan-out
/// mapping's records name their stream).
fn stream_arn(arn: &str) -> &str {
    arn.split("/consumer/").next().unwrap_or(arn)
}

/// A stream's ARN, or one of its enhanced fan-out consumers'
/// (`stream/<name>/consumer/<consumer>:<created>`).
fn is_kinesis_arn(arn: &str) -> bool {
    Arn::parse(arn).is_ok_and(|arn| {
        arn.service == "kinesis"
            && arn.resource.strip_prefix("stream/").is_some_and(|rest| {
                match rest.split_once("/consumer/") {
                    Some((name, consumer)) => !name.is_empty() && !consumer.is_empty(),
                    None => !rest.is_empty() && !rest.contains('/'),
                }
            })
    })
}

fn is_sqs_arn(arn: &str) -> bool {
    Arn::parse(arn).is_ok_and(|arn| arn.service == "sqs" && !arn.resource.contains(':'))
}

fn response_types(types: Option<&[String]>) -> bool {
    types.is_some_and(|t| t.iter().any(|t| t == "ReportBatchItemFailures"))
}

/// AWS's rules for an SQS mapping's batch size and batching window.
fn check_batching(fifo: bool, batch_size: u32, window_seconds: u32) -> Result<(), ApiError> {
    if fifo {
        if batch_size > MAX_UNWINDOWED_BATCH {
            return Err(invalid(
                "Maximum batch size must be between 1 and 10 inclusive",
            ));
        }
        if window_seconds > 0 {
            return Err(invalid("Batching window is not supported for FIFO queues"));
        }
    } else if batch_size > MAX_UNWINDOWED_BATCH && window_seconds == 0 {
        return Err(invalid(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is \
             greater than 10",
        ));
    }
    Ok(())
}

/// The patterns of `FilterCriteria`, each checked (AWS refuses a missing or invalid one with
/// one message).
fn filters(criteria: Option<&FilterCriteria>) -> Result<Option<Vec<String>>, ApiError> {
    let Some(criteria) = criteria else {
        return Ok(None);
    };
    let mut patterns = Vec::new();
    for filter in criteria.filters.iter().flatten() {
        let text = filter
            .pattern
            .as_deref()
            .filter(|text| Pattern::parse(text, Dialect::EventSourceMapping).is_ok())
            .ok_or_else(|| invalid("Invalid filter pattern definition."))?;
        patterns.push(text.to_owned());
    }
    Ok(Some(patterns))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<(), ApiError>) -> Option<String> {
        result.err().map(|e| format!("{}: {}", e.kind, e.message))
    }

    #[test]
    fn batching_follows_aws_rules_for_standard_and_fifo_queues() {
        assert_eq!(message(check_batching(false, 10, 0)), None);
        assert_eq!(message(check_batching(false, 10_000, 1)), None);
        assert_eq!(
            message(check_batching(false, 11, 0)).as_deref(),
            Some(
                "InvalidParameterValueException: Maximum batch window in seconds must be \
                 greater than 0 if maximum batch size is greater than 10"
            )
        );
        assert_eq!(message(check_batching(true, 10, 0)), None);
        assert_eq!(
            message(check_batching(true, 11, 0)).as_deref(),
            Some(
                "InvalidParameterValueException: Maximum batch size must be between 1 and 10 inclusive"
            )
        );
        assert_eq!(
            message(check_batching(true, 5, 2)).as_deref(),
            Some(
                "InvalidParameterValueException: Batching window is not supported for FIFO queues"
            )
        );
    }

    #[test]
    fn filter_criteria_are_parsed_with_the_mapping_dialect() {
        let criteria = |patterns: &[Option<&str>]| FilterCriteria {
            filters: Some(
                patterns
                    .iter()
                    .map(|p| Filter {
                        pattern: p.map(str::to_owned),
                    })
                    .collect(),
            ),
        };
        assert_eq!(filters(None).unwrap(), None);
        assert_eq!(
            filters(Some(&criteria(&[Some(r#"{"body": {"kind": ["order"]}}"#)]))).unwrap(),
            Some(vec![r#"{"body": {"kind": ["order"]}}"#.to_owned()])
        );
        for bad in [
            None,
            Some("simple string"),
            Some(r#"{"body": {"kind": "order"}}"#),
            // No wildcard in the mapping dialect.
            Some(r#"{"body": {"kind": [{"wildcard": "o*"}]}}"#),
        ] {
            let error = filters(Some(&criteria(&[bad]))).unwrap_err();
            assert_eq!(error.kind, "InvalidParameterValueException", "{bad:?}");
            assert_eq!(
                error.message, "Invalid filter pattern definition.",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn only_sqs_queue_arns_are_event_sources() {
        assert!(is_sqs_arn("arn:aws:sqs:us-east-1:000000000000:orders"));
        assert!(is_sqs_arn("arn:aws:sqs:us-east-1:000000000000:orders.fifo"));
        assert!(!is_sqs_arn(
            "arn:aws:kinesis:us-east-1:000000000000:stream/s"
        ));
        assert!(!is_sqs_arn("orders"));
        assert!(!is_sqs_arn("arn:aws:sqs:us-east-1:000000000000:"));
    }
}
