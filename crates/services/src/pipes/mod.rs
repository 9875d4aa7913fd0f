//! EventBridge Pipes with SQS queue and Kinesis stream sources: the control plane behind the Pipes API
//! ([`PipesBackend`]: Create/Describe/Update/Delete/List/Start/StopPipe and tags, AWS's states
//! and errors), each pipe a record of the store's `resources` table (kind [`KIND`], key its
//! ARN, body the JSON [`Definition`]), and the pollers that run them ([`runner`]): receive a
//! batch from the queue (through the same [`crate::queue_source`] as the event-source
//! mappings), drop what no filter matches, enrich (a Lambda function or an EXPRESS state
//! machine), shape each event with the `InputTemplate` ([`template`]), deliver to the target
//! (Lambda, Step Functions, SQS, SNS), and delete the messages once the target took them. A
//! stream source is read by the event-source mappings' stream pollers
//! (`Mappings::run_reader`), which hand each batch to the pipe.
//!
//! Pollers run on the pipes' own [`sluice_runtime::Tasks`], which `sluice serve` shuts down
//! first; the Step Functions API is reached through a [`Slot`] set once it exists.

mod runner;
pub mod template;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sluice_api::ApiError;
use sluice_api::pipes::Pipes;
use sluice_api::pipes::model::{
    CreatePipeRequest, CreatePipeResponse, DeletePipeRequest, DeletePipeResponse,
    DescribePipeRequest, DescribePipeResponse, FilterCriteria, ListPipesRequest, ListPipesResponse,
    ListTagsForResourceRequest, ListTagsForResourceResponse, Pipe, PipeEnrichmentParameters,
    PipeSourceParameters, PipeSourceSqsQueueParameters, PipeState, PipeTargetInvocationType,
    PipeTargetParameters, RequestedPipeState, RequestedPipeStateDescribeResponse, StartPipeRequest,
    StartPipeResponse, StopPipeRequest, StopPipeResponse, TagResourceRequest, TagResourceResponse,
    UntagResourceRequest, UntagResourceResponse, UpdatePipeRequest, UpdatePipeResponse,
};
use sluice_broker::Broker;
use sluice_functions::Functions;
use sluice_patterns::{Dialect, Pattern};
use sluice_store::{ResourceRecord, Store, Write};
use sluice_types::Scope;
use tokio::sync::watch;

use self::template::Template;
use crate::integrations::aws_sdk::{JsonService, Slot};
use crate::mappings::{Mappings, StreamReading};
use crate::queue_source::{BrokerSource, Source};

/// The store's `resources` kind of a pipe.
pub const KIND: &str = "pipe";

/// ListPipes' largest (and default) page.
const PAGE_SIZE: usize = 100;

/// An SQS source's batch size when none is given.
const DEFAULT_BATCH_SIZE: i32 = 10;

/// A Kinesis source's batch size when none is given.
const DEFAULT_STREAM_BATCH_SIZE: i32 = 100;

/// The largest batch without a batching window, and of any FIFO source.
const MAX_UNWINDOWED_BATCH: i32 = 10;

/// The kind of listing `NextToken`s of ListPipes are minted for.
const TOKEN_KIND: &str = "pipes";

/// A pipe as created and updated, as stored: the API's own shapes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Definition {
    name: String,
    arn: String,
    description: Option<String>,
    desired_state: RequestedPipeState,
    source: String,
    source_parameters: Option<PipeSourceParameters>,
    enrichment: Option<String>,
    enrichment_parameters: Option<PipeEnrichmentParameters>,
    target: String,
    target_parameters: Option<PipeTargetParameters>,
    role_arn: String,
    tags: BTreeMap<String, String>,
    /// `LogConfiguration` as given (kept and described, not acted on).
    log_configuration: Option<Value>,
    kms_key_identifier: Option<String>,
    created_ms: i64,
    modified_ms: i64,
}

impl Definition {
    fn running(&self) -> bool {
        self.desired_state == RequestedPipeState::Running
    }

    /// The state a pipe settles in: what it was asked to be.
    fn current_state(&self) -> PipeState {
        if self.running() {
            PipeState::Running
        } else {
            PipeState::Stopped
        }
    }
}

/// A Lambda function or a state machine a pipe calls.
#[derive(Debug, Clone, PartialEq)]
enum Callee {
    /// A function of the ARN's region.
    Function {
        region: String,
        name: String,
        qualifier: Option<String>,
    },
    StateMachine {
        arn: String,
    },
}

/// Where a pipe delivers.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    /// A function (of the ARN's region), synchronously or as an event (FIRE_AND_FORGET).
    Function {
        region: String,
        name: String,
        qualifier: Option<String>,
        fire_and_forget: bool,
    },
    /// StartSyncExecution (REQUEST_RESPONSE, EXPRESS machines) or StartExecution.
    StateMachine {
        arn: String,
        sync: bool,
    },
    Queue {
        url: String,
        fifo: bool,
        group_id: Option<String>,
        deduplication_id: Option<String>,
    },
    Topic {
        arn: String,
    },
}

/// Where a pipe reads.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PlanSource {
    /// The queue's name.
    Queue(String),
    /// A Kinesis stream, read by the event-source mappings' stream pollers.
    Stream(StreamReading),
}

/// What a pipe's poller runs by, compiled from its [`Definition`].
pub(crate) struct Plan {
    source: PlanSource,
    batch_size: usize,
    window_seconds: u32,
    filters: Vec<Pattern>,
    enrichment: Option<Callee>,
    enrichment_template: Option<Template>,
    target: Target,
    target_template: Option<Template>,
}

/// What a pipe's poller sees: its definition, its plan, and whether it is deleted.
#[derive(Clone)]
pub(crate) struct Live {
    definition: Arc<Definition>,
    plan: Arc<Plan>,
    deleted: bool,
}

impl Live {
    fn active(&self) -> bool {
        self.definition.running() && !self.deleted
    }
}

/// One pipe of the server.
pub(crate) struct Handle {
    live: watch::Sender<Live>,
    /// Whether its poller runs.
    polling: AtomicBool,
    /// What it did since the server started.
    pub(crate) counters: PipeCounters,
}

/// A pipe's traffic since the server started, for `sluice queues` and metrics.
#[derive(Debug, Default)]
pub(crate) struct PipeCounters {
    /// Batches the target took.
    pub(crate) batches: std::sync::atomic::AtomicU64,
    /// Events in those batches.
    pub(crate) delivered: std::sync::atomic::AtomicU64,
    /// Messages no filter matched (deleted unseen).
    pub(crate) filtered: std::sync::atomic::AtomicU64,
    /// Batches the enrichment or the target failed (their messages come back).
    pub(crate) failed: std::sync::atomic::AtomicU64,
}

/// A pipe at a glance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipeStats {
    pub name: String,
    pub source: String,
    pub target: String,
    pub running: bool,
    pub polling: bool,
    pub batches: u64,
    pub delivered: u64,
    pub filtered: u64,
    pub failed: u64,
}

impl Handle {
    fn new(definition: Definition, plan: Plan) -> Self {
        Self {
            live: watch::channel(Live {
                definition: Arc::new(definition),
                plan: Arc::new(plan),
                deleted: false,
            })
            .0,
            polling: AtomicBool::new(false),
            counters: PipeCounters::default(),
        }
    }

    fn definition(&self) -> Arc<Definition> {
        Arc::clone(&self.live.borrow().definition)
    }
}

/// The APIs of Sluice's other services that pipes call in process.
#[derive(Clone)]
pub struct Services {
    /// Step Functions (targets and enrichments), set once its backend exists.
    pub step_functions: Slot,
    pub sqs: Arc<dyn JsonService>,
    pub sns: Arc<dyn JsonService>,
}

/// The pipes of a server, behind the Pipes API. Cheap to clone.
#[derive(Clone)]
pub struct PipesBackend {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    source: Arc<dyn Source>,
    /// Reads Kinesis sources with the stream mappings' pollers.
    mappings: Mappings,
    functions: Functions,
    services: Services,
    scope: Scope,
    tasks: sluice_runtime::Tasks,
    /// By name.
    pipes: Mutex<BTreeMap<String, Arc<Handle>>>,
    /// Held across a change's checks and commit, so two creates of a name cannot both pass.
    changes: tokio::sync::Mutex<()>,
}

impl Inner {
    fn pipes(&self) -> MutexGuard<'_, BTreeMap<String, Arc<Handle>>> {
        self.pipes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn validation(message: impl Into<String>) -> ApiError {
    ApiError::new("ValidationException", message)
}

fn not_found(name: &str) -> ApiError {
    ApiError::new("NotFoundException", format!("Pipe {name} does not exist.")).with_status(404)
}

fn internal(error: impl std::fmt::Display) -> ApiError {
    ApiError::new("InternalException", error.to_string()).with_status(500)
}

/// An ARN's service and resource (`arn:<partition>:<service>:<region>:<account>:<resource>`).
fn arn_parts(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some(service), Some(_), Some(_), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    (!service.is_empty() && !resource.is_empty()).then_some((service, resource))
}

/// The function `function:<name>[:<qualifier>]` names.
fn function_of(resource: &str) -> Option<(String, Option<String>)> {
    let rest = resource.strip_prefix("function:")?;
    let (name, qualifier) = match rest.split_once(':') {
        Some((name, qualifier)) => (name, Some(qualifier.to_owned())),
        None => (rest, None),
    };
    (!name.is_empty()).then(|| (name.to_owned(), qualifier))
}

fn callee(arn: &str, role: &str) -> Result<Callee, ApiError> {
    match arn_parts(arn) {
        Some(("lambda", resource)) => {
            let (name, qualifier) = function_of(resource)
                .ok_or_else(|| validation(format!("{role} {arn} is not a Lambda function ARN.")))?;
            let region = arn.split(':').nth(3).unwrap_or_default().to_owned();
            Ok(Callee::Function {
                region,
                name,
                qualifier,
            })
        }
        Some(("states", resource)) if resource.starts_with("stateMachine:") => {
            Ok(Callee::StateMachine {
                arn: arn.to_owned(),
            })
        }
        Some((service, _)) => Err(validation(format!(
            "{role} {arn} is not supported: Sluice's pipes call Lambda functions and Step \
             Functions state machines (the {} type is {service}).",
            role.to_ascii_lowercase()
        ))),
        None => Err(validation(format!("{role} {arn} is not a valid ARN."))),
    }
}

fn template(text: Option<&str>, at: &str) -> Result<Option<Template>, ApiError> {
    text.filter(|t| !t.is_empty())
        .map(|t| Template::parse(t).map_err(|e| validation(format!("{at}: {e}"))))
        .transpose()
}

/// AWS's rules for an SQS source's batch size and batching window.
fn check_batching(fifo: bool, batch_size: i32, window_seconds: i32) -> Result<(), ApiError> {
    if fifo {
        if batch_size > MAX_UNWINDOWED_BATCH {
            return Err(validation(
                "Maximum batch size must be between 1 and 10 inclusive for FIFO queues.",
            ));
        }
        if window_seconds > 0 {
            return Err(validation(
                "Batching window is not supported for FIFO queues.",
            ));
        }
    } else if batch_size > MAX_UNWINDOWED_BATCH && window_seconds == 0 {
        return Err(validation(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is \
             greater than 10.",
        ));
    }
    Ok(())
}

/// The patterns of `FilterCriteria`.
fn filters(criteria: Option<&FilterCriteria>) -> Result<Vec<Pattern>, ApiError> {
    let mut patterns = Vec::new();
    for filter in criteria
        .and_then(|c| c.filters.as_ref())
        .into_iter()
        .flatten()
    {
        let text = filter.pattern.as_deref().unwrap_or_default();
        let pattern = Pattern::parse(text, Dialect::EventSourceMapping)
            .map_err(|e| validation(format!("Invalid filter pattern definition: {e}")))?;
        patterns.push(pattern);
    }
    Ok(patterns)
}

/// A source's parameters name only its own kind (`own`, e.g. `SqsQueueParameters`).
fn only_own_parameters(
    parameters: &PipeSourceParameters,
    own: &str,
    source: &str,
) -> Result<(), ApiError> {
    let given = [
        (
            "SqsQueueParameters",
            parameters.sqs_queue_parameters.is_some(),
        ),
        (
            "KinesisStreamParameters",
            parameters.kinesis_stream_parameters.is_some(),
        ),
        (
            "DynamoDBStreamParameters",
            parameters.dynamo_db_stream_parameters.is_some(),
        ),
        (
            "ActiveMQBrokerParameters",
            parameters.active_mq_broker_parameters.is_some(),
        ),
        (
            "RabbitMQBrokerParameters",
            parameters.rabbit_mq_broker_parameters.is_some(),
        ),
        (
            "ManagedStreamingKafkaParameters",
            parameters.managed_streaming_kafka_parameters.is_some(),
        ),
        (
            "SelfManagedKafkaParameters",
            parameters.self_managed_kafka_parameters.is_some(),
        ),
    ];
    match given.iter().find(|(name, given)| *given && *name != own) {
        Some((name, _)) => Err(validation(format!(
            "SourceParameters.{name} does not apply to {source} source."
        ))),
        None => Ok(()),
    }
}

/// A Kinesis source's settings, with AWS's defaults and rules.
fn stream_reading(
    source: &str,
    parameters: &PipeSourceParameters,
) -> Result<StreamReading, ApiError> {
    only_own_parameters(parameters, "KinesisStreamParameters", "a Kinesis stream")?;
    let kinesis = parameters
        .kinesis_stream_parameters
        .as_ref()
        .ok_or_else(|| {
            validation(
                "SourceParameters.KinesisStreamParameters is required for a Kinesis stream source.",
            )
        })?;
    let starting_position = kinesis.starting_position.to_string();
    let timestamp = kinesis
        .starting_position_timestamp
        .map(|t| (t * 1000.0) as i64);
    if (starting_position == "AT_TIMESTAMP") != timestamp.is_some() {
        return Err(validation(
            "StartingPositionTimestamp must be given with, and only with, StartingPosition \
             AT_TIMESTAMP.",
        ));
    }
    let age = kinesis.maximum_record_age_in_seconds.unwrap_or(-1);
    if age != -1 && !(60..=604_800).contains(&age) {
        return Err(validation(
            "MaximumRecordAgeInSeconds must be -1 or between 60 and 604800.",
        ));
    }
    let filters = parameters.filter_criteria.as_ref().and_then(|c| {
        c.filters.as_ref().map(|filters| {
            filters
                .iter()
                .map(|f| f.pattern.clone().unwrap_or_default())
                .collect()
        })
    });
    Ok(StreamReading {
        source_arn: source.to_owned(),
        batch_size: kinesis
            .batch_size
            .unwrap_or(DEFAULT_STREAM_BATCH_SIZE)
            .max(1) as u32,
        window_seconds: kinesis
            .maximum_batching_window_in_seconds
            .unwrap_or(0)
            .max(0) as u32,
        filters,
        starting_position,
        starting_position_timestamp_ms: timestamp,
        maximum_retry_attempts: kinesis.maximum_retry_attempts.unwrap_or(-1),
        bisect: kinesis.on_partial_batch_item_failure.is_some(),
        maximum_record_age_seconds: age,
        parallelization_factor: kinesis.parallelization_factor.unwrap_or(1).max(1) as u32,
        on_failure: kinesis
            .dead_letter_config
            .as_ref()
            .and_then(|d| d.arn.clone())
            .filter(|arn| !arn.is_empty()),
    })
}

/// Compiles `definition` (its syntax and the rules that need no other service).
fn compile(definition: &Definition) -> Result<Plan, ApiError> {
    let parameters = definition.source_parameters.clone().unwrap_or_default();
    let queue = match arn_parts(&definition.source) {
        Some(("sqs", name)) if !name.contains(':') => name.to_owned(),
        Some(("kinesis", resource)) if resource.starts_with("stream/") => {
            let reading = stream_reading(&definition.source, &parameters)?;
            return finish(definition, PlanSource::Stream(reading), 0, 0, &parameters);
        }
        Some((service, _)) => {
            return Err(validation(format!(
                "Source {} is not supported: Sluice's pipes read from SQS queues and Kinesis \
                 streams (the source type is {service}).",
                definition.source
            )));
        }
        None => {
            return Err(validation(format!(
                "Source {} is not a valid ARN.",
                definition.source
            )));
        }
    };
    only_own_parameters(&parameters, "SqsQueueParameters", "an SQS queue")?;
    let sqs = parameters.sqs_queue_parameters.clone().unwrap_or_default();
    let batch_size = sqs.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
    let window_seconds = sqs.maximum_batching_window_in_seconds.unwrap_or(0);
    check_batching(queue.ends_with(".fifo"), batch_size, window_seconds)?;
    finish(
        definition,
        PlanSource::Queue(queue),
        batch_size,
        window_seconds,
        &parameters,
    )
}

/// The rest of a plan, whatever the source: filters, enrichment, target.
fn finish(
    definition: &Definition,
    source: PlanSource,
    batch_size: i32,
    window_seconds: i32,
    parameters: &PipeSourceParameters,
) -> Result<Plan, ApiError> {
    let filters = filters(parameters.filter_criteria.as_ref())?;
    let enrichment = definition
        .enrichment
        .as_deref()
        .filter(|e| !e.is_empty())
        .map(|arn| callee(arn, "Enrichment"))
        .transpose()?;
    let enrichment_template = template(
        definition
            .enrichment_parameters
            .as_ref()
            .and_then(|p| p.input_template.as_deref()),
        "EnrichmentParameters.InputTemplate",
    )?;
    let parameters = definition.target_parameters.clone().unwrap_or_default();
    let target_template = template(
        parameters.input_template.as_deref(),
        "TargetParameters.InputTemplate",
    )?;
    let target = match arn_parts(&definition.target) {
        Some(("lambda", _)) | Some(("states", _)) => match callee(&definition.target, "Target")? {
            Callee::Function {
                region,
                name,
                qualifier,
            } => Target::Function {
                region,
                name,
                qualifier,
                fire_and_forget: parameters
                    .lambda_function_parameters
                    .and_then(|p| p.invocation_type)
                    == Some(PipeTargetInvocationType::FireAndForget),
            },
            Callee::StateMachine { arn } => Target::StateMachine {
                arn,
                sync: parameters
                    .step_function_state_machine_parameters
                    .and_then(|p| p.invocation_type)
                    .unwrap_or(PipeTargetInvocationType::RequestResponse)
                    == PipeTargetInvocationType::RequestResponse,
            },
        },
        Some(("sqs", name)) if !name.contains(':') => {
            let fifo = name.ends_with(".fifo");
            let sqs = parameters.sqs_queue_parameters.unwrap_or_default();
            if fifo && sqs.message_group_id.is_none() {
                return Err(validation(
                    "TargetParameters.SqsQueueParameters.MessageGroupId is required for a \
                     FIFO queue target.",
                ));
            }
            let account = definition.target.split(':').nth(4).unwrap_or_default();
            Target::Queue {
                url: format!("http://sluice/{account}/{name}"),
                fifo,
                group_id: sqs.message_group_id,
                deduplication_id: sqs.message_deduplication_id,
            }
        }
        Some(("sns", _)) => Target::Topic {
            arn: definition.target.clone(),
        },
        Some((service, _)) => {
            return Err(validation(format!(
                "Target {} is not supported: Sluice's pipes deliver to Lambda functions, Step \
                 Functions state machines, SQS queues and SNS topics (the target type is \
                 {service}).",
                definition.target
            )));
        }
        None => {
            return Err(validation(format!(
                "Target {} is not a valid ARN.",
                definition.target
            )));
        }
    };
    Ok(Plan {
        source,
        batch_size: batch_size.max(1) as usize,
        window_seconds: window_seconds.max(0) as u32,
        filters,
        enrichment,
        enrichment_template,
        target,
        target_template,
    })
}

impl PipesBackend {
    /// The pipes the store holds, loaded; their pollers start with [`PipesBackend::resume`].
    pub async fn open<S: Store>(
        store: S,
        broker: Broker<S>,
        mappings: Mappings,
        functions: Functions,
        services: Services,
        scope: Scope,
    ) -> Result<Self, sluice_store::Error> {
        let mut pipes = BTreeMap::new();
        for record in store.resources(KIND).await? {
            let loaded = serde_json::from_slice::<Definition>(&record.body)
                .map_err(|e| e.to_string())
                .and_then(|d| compile(&d).map(|p| (d, p)).map_err(|e| e.message));
            match loaded {
                Ok((definition, plan)) => {
                    pipes.insert(
                        definition.name.clone(),
                        Arc::new(Handle::new(definition, plan)),
                    );
                }
                Err(error) => {
                    tracing::warn!(key = %record.key, %error, "unreadable pipe skipped");
                }
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                source: Arc::new(BrokerSource::new(broker, store)),
                mappings,
                functions,
                services,
                scope,
                tasks: sluice_runtime::Tasks::new("pipes"),
                pipes: Mutex::new(pipes),
                changes: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// Starts the pollers of every RUNNING pipe; returns how many.
    pub fn resume(&self) -> usize {
        let all: Vec<Arc<Handle>> = self.inner.pipes().values().cloned().collect();
        let mut started = 0;
        for handle in all {
            if handle.live.borrow().active() {
                runner::start(&self.inner, &handle);
                started += 1;
            }
        }
        started
    }

    /// Every pipe at a glance, by name.
    pub fn stats(&self) -> Vec<PipeStats> {
        let read = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        self.inner
            .pipes()
            .values()
            .map(|handle| {
                let live = handle.live.borrow();
                PipeStats {
                    name: live.definition.name.clone(),
                    source: live.definition.source.clone(),
                    target: live.definition.target.clone(),
                    running: live.active(),
                    polling: handle.polling.load(std::sync::atomic::Ordering::Acquire),
                    batches: read(&handle.counters.batches),
                    delivered: read(&handle.counters.delivered),
                    filtered: read(&handle.counters.filtered),
                    failed: read(&handle.counters.failed),
                }
            })
            .collect()
    }

    /// The pollers, for an orderly shutdown.
    pub fn tasks(&self) -> &sluice_runtime::Tasks {
        &self.inner.tasks
    }

    fn now_ms(&self) -> i64 {
        self.inner.source.clock().now_ms()
    }

    fn handle(&self, name: &str) -> Result<Arc<Handle>, ApiError> {
        self.inner
            .pipes()
            .get(name)
            .cloned()
            .ok_or_else(|| not_found(name))
    }

    fn by_arn(&self, arn: &str) -> Result<Arc<Handle>, ApiError> {
        self.inner
            .pipes()
            .values()
            .find(|h| h.definition().arn == arn)
            .cloned()
            .ok_or_else(|| {
                ApiError::new(
                    "NotFoundException",
                    format!("Resource {arn} does not exist."),
                )
                .with_status(404)
            })
    }

    /// The checks that need the other services: the source queue, the functions and state
    /// machines, the target queue exist; a synchronous state machine is EXPRESS.
    async fn check_resources(&self, definition: &Definition, plan: &Plan) -> Result<(), ApiError> {
        let source_exists = match &plan.source {
            PlanSource::Queue(queue) => {
                self.inner.source.queue_arn(queue).as_deref() == Some(&definition.source)
            }
            PlanSource::Stream(reading) => {
                if let Some(arn) = &reading.on_failure
                    && !self.inner.source.destination_exists(arn)
                {
                    return Err(validation(format!(
                        "DeadLetterConfig.Arn {arn} is not an existing SQS queue or SNS topic."
                    )));
                }
                self.inner.mappings.stream_exists(&definition.source)
            }
        };
        if !source_exists {
            return Err(validation(format!(
                "Source {} does not exist.",
                definition.source
            )));
        }
        if let Some(callee) = &plan.enrichment {
            self.check_callee(
                callee,
                definition.enrichment.as_deref().unwrap_or_default(),
                true,
            )
            .await?;
        }
        match &plan.target {
            Target::Function {
                region,
                name,
                qualifier,
                ..
            } => {
                let callee = Callee::Function {
                    region: region.clone(),
                    name: name.clone(),
                    qualifier: qualifier.clone(),
                };
                self.check_callee(&callee, &definition.target, false)
                    .await?;
            }
            Target::StateMachine { arn, sync } => {
                let callee = Callee::StateMachine { arn: arn.clone() };
                self.check_callee(&callee, &definition.target, *sync)
                    .await?;
            }
            Target::Queue { .. } => {
                let name = definition.target.rsplit(':').next().unwrap_or_default();
                if self.inner.source.queue_arn(name).as_deref() != Some(&definition.target) {
                    return Err(validation(format!(
                        "Target {} does not exist.",
                        definition.target
                    )));
                }
            }
            Target::Topic { arn } => {
                let body = json!({"TopicArn": arn}).to_string().into_bytes();
                self.inner
                    .services
                    .sns
                    .call("GetTopicAttributes".into(), body)
                    .await
                    .map_err(|_| validation(format!("Target {arn} does not exist.")))?;
            }
        }
        Ok(())
    }

    /// `callee` exists; `sync` (a synchronous state machine): it is EXPRESS.
    async fn check_callee(&self, callee: &Callee, arn: &str, sync: bool) -> Result<(), ApiError> {
        match callee {
            Callee::Function {
                region,
                name,
                qualifier,
            } => {
                self.inner
                    .functions
                    .in_region(region)
                    .resolve(name, qualifier.as_deref())
                    .map_err(|_| validation(format!("Function {arn} does not exist.")))?;
            }
            Callee::StateMachine { arn } => {
                let service = self
                    .inner
                    .services
                    .step_functions
                    .get()
                    .ok_or_else(|| internal("the Step Functions API is not ready"))?;
                let body = json!({"stateMachineArn": arn}).to_string().into_bytes();
                let described = service
                    .call("DescribeStateMachine".into(), body)
                    .await
                    .map_err(|_| validation(format!("State machine {arn} does not exist.")))?;
                let described: Value = serde_json::from_slice(&described).unwrap_or(Value::Null);
                if sync && described["type"] != "EXPRESS" {
                    return Err(validation(format!(
                        "State machine {arn} is a STANDARD state machine: only EXPRESS state \
                         machines run with the REQUEST_RESPONSE invocation type (use \
                         FIRE_AND_FORGET for STANDARD ones)."
                    )));
                }
            }
        }
        Ok(())
    }

    async fn persist(&self, definition: &Definition) -> Result<(), ApiError> {
        let body = serde_json::to_vec(definition).map_err(internal)?;
        self.inner
            .source
            .commit(vec![Write::PutResource(ResourceRecord {
                kind: KIND.into(),
                key: definition.arn.clone(),
                body,
            })])
            .await
            .map_err(internal)
    }

    fn describe(&self, definition: &Definition) -> DescribePipeResponse {
        DescribePipeResponse {
            arn: Some(definition.arn.clone()),
            name: Some(definition.name.clone()),
            description: definition.description.clone(),
            desired_state: Some(match definition.desired_state {
                RequestedPipeState::Running => RequestedPipeStateDescribeResponse::Running,
                RequestedPipeState::Stopped => RequestedPipeStateDescribeResponse::Stopped,
            }),
            current_state: Some(definition.current_state()),
            // A reason is given for failures only.
            state_reason: None,
            source: Some(definition.source.clone()),
            source_parameters: Some(with_defaults(
                definition.source_parameters.clone(),
                &definition.source,
            )),
            enrichment: definition.enrichment.clone(),
            enrichment_parameters: definition.enrichment_parameters.clone(),
            target: Some(definition.target.clone()),
            target_parameters: definition.target_parameters.clone(),
            role_arn: Some(definition.role_arn.clone()),
            tags: Some(definition.tags.clone()),
            creation_time: Some(seconds(definition.created_ms)),
            last_modified_time: Some(seconds(definition.modified_ms)),
            log_configuration: definition
                .log_configuration
                .clone()
                .and_then(|v| serde_json::from_value(v).ok()),
            kms_key_identifier: definition.kms_key_identifier.clone(),
        }
    }

    /// Replaces a pipe's definition: persisted, then its poller follows (started, restarted
    /// with the new settings, or stopped).
    async fn replace(&self, handle: &Handle, definition: Definition) -> Result<(), ApiError> {
        let plan = compile(&definition)?;
        self.check_resources(&definition, &plan).await?;
        self.persist(&definition).await?;
        handle.live.send_modify(|live| {
            live.definition = Arc::new(definition);
            live.plan = Arc::new(plan);
        });
        Ok(())
    }
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// The source parameters as AWS describes them: an SQS source's batch size and window with
/// their defaults.
fn with_defaults(parameters: Option<PipeSourceParameters>, source: &str) -> PipeSourceParameters {
    let mut parameters = parameters.unwrap_or_default();
    if let Some(kinesis) = parameters.kinesis_stream_parameters.as_mut() {
        kinesis.batch_size.get_or_insert(DEFAULT_STREAM_BATCH_SIZE);
        kinesis.maximum_batching_window_in_seconds.get_or_insert(0);
        kinesis.maximum_retry_attempts.get_or_insert(-1);
        kinesis.maximum_record_age_in_seconds.get_or_insert(-1);
        kinesis.parallelization_factor.get_or_insert(1);
        return parameters;
    }
    if !source.contains(":sqs:") {
        return parameters;
    }
    let sqs = parameters
        .sqs_queue_parameters
        .get_or_insert_with(PipeSourceSqsQueueParameters::default);
    sqs.batch_size.get_or_insert(DEFAULT_BATCH_SIZE);
    sqs.maximum_batching_window_in_seconds.get_or_insert(0);
    parameters
}

macro_rules! state_response {
    ($type:ident, $definition:expr, $state:expr) => {
        $type {
            arn: Some($definition.arn.clone()),
            name: Some($definition.name.clone()),
            desired_state: Some($definition.desired_state),
            current_state: Some($state),
            creation_time: Some(seconds($definition.created_ms)),
            last_modified_time: Some(seconds($definition.modified_ms)),
        }
    };
}

impl Pipes for PipesBackend {
    async fn create_pipe(&self, input: CreatePipeRequest) -> Result<CreatePipeResponse, ApiError> {
        let now = self.now_ms();
        let definition = Definition {
            arn: self
                .inner
                .scope
                .arn("pipes", &format!("pipe/{}", input.name)),
            name: input.name,
            description: input.description,
            desired_state: input.desired_state.unwrap_or(RequestedPipeState::Running),
            source: input.source,
            source_parameters: input.source_parameters,
            enrichment: input.enrichment.filter(|e| !e.is_empty()),
            enrichment_parameters: input.enrichment_parameters,
            target: input.target,
            target_parameters: input.target_parameters,
            role_arn: input.role_arn,
            tags: input.tags.unwrap_or_default(),
            log_configuration: input
                .log_configuration
                .and_then(|c| serde_json::to_value(c).ok()),
            kms_key_identifier: input.kms_key_identifier,
            created_ms: now,
            modified_ms: now,
        };
        let plan = compile(&definition)?;
        let _change = self.inner.changes.lock().await;
        if self.inner.pipes().contains_key(&definition.name) {
            return Err(ApiError::new(
                "ConflictException",
                format!("Pipe {} already exists.", definition.name),
            )
            .with_status(409));
        }
        self.check_resources(&definition, &plan).await?;
        self.persist(&definition).await?;
        let answer = state_response!(CreatePipeResponse, definition, PipeState::Creating);
        let handle = Arc::new(Handle::new(definition.clone(), plan));
        self.inner
            .pipes()
            .insert(definition.name.clone(), Arc::clone(&handle));
        if definition.running() {
            runner::start(&self.inner, &handle);
        }
        Ok(answer)
    }

    async fn describe_pipe(
        &self,
        input: DescribePipeRequest,
    ) -> Result<DescribePipeResponse, ApiError> {
        Ok(self.describe(&self.handle(&input.name)?.definition()))
    }

    async fn update_pipe(&self, input: UpdatePipeRequest) -> Result<UpdatePipeResponse, ApiError> {
        let _change = self.inner.changes.lock().await;
        let handle = self.handle(&input.name)?;
        let mut definition = (*handle.definition()).clone();
        if let Some(description) = input.description {
            definition.description = Some(description);
        }
        if let Some(state) = input.desired_state {
            definition.desired_state = state;
        }
        if let Some(update) = input.source_parameters {
            let stream_source = definition.source.contains(":kinesis:");
            let others = (update.kinesis_stream_parameters.is_some() && !stream_source)
                || (update.sqs_queue_parameters.is_some() && stream_source)
                || update.dynamo_db_stream_parameters.is_some()
                || update.active_mq_broker_parameters.is_some()
                || update.rabbit_mq_broker_parameters.is_some()
                || update.managed_streaming_kafka_parameters.is_some()
                || update.self_managed_kafka_parameters.is_some();
            if others {
                return Err(validation(
                    "SourceParameters may only update the source's own parameters \
                     (SqsQueueParameters or KinesisStreamParameters) and FilterCriteria.",
                ));
            }
            let parameters = definition
                .source_parameters
                .get_or_insert_with(PipeSourceParameters::default);
            if let Some(criteria) = update.filter_criteria {
                // `FilterCriteria: {}` (or no filters) removes the filters.
                parameters.filter_criteria = criteria
                    .filters
                    .as_ref()
                    .is_some_and(|f| !f.is_empty())
                    .then_some(criteria);
            }
            if let Some(sqs) = update.sqs_queue_parameters {
                let current = parameters
                    .sqs_queue_parameters
                    .get_or_insert_with(PipeSourceSqsQueueParameters::default);
                if sqs.batch_size.is_some() {
                    current.batch_size = sqs.batch_size;
                }
                if sqs.maximum_batching_window_in_seconds.is_some() {
                    current.maximum_batching_window_in_seconds =
                        sqs.maximum_batching_window_in_seconds;
                }
            }
            if let (Some(kinesis), Some(current)) = (
                update.kinesis_stream_parameters,
                parameters.kinesis_stream_parameters.as_mut(),
            ) {
                macro_rules! set {
                    ($($field:ident),*) => {$(
                        if kinesis.$field.is_some() {
                            current.$field = kinesis.$field;
                        }
                    )*};
                }
                set!(
                    batch_size,
                    dead_letter_config,
                    on_partial_batch_item_failure,
                    maximum_batching_window_in_seconds,
                    maximum_record_age_in_seconds,
                    maximum_retry_attempts,
                    parallelization_factor
                );
            }
        }
        if let Some(enrichment) = input.enrichment {
            // An empty ARN removes the enrichment.
            definition.enrichment = (!enrichment.is_empty()).then_some(enrichment);
        }
        if let Some(parameters) = input.enrichment_parameters {
            definition.enrichment_parameters = Some(parameters);
        }
        if let Some(target) = input.target {
            definition.target = target;
        }
        if let Some(parameters) = input.target_parameters {
            definition.target_parameters = Some(parameters);
        }
        definition.role_arn = input.role_arn;
        if let Some(log) = input.log_configuration {
            definition.log_configuration = serde_json::to_value(log).ok();
        }
        if let Some(key) = input.kms_key_identifier {
            definition.kms_key_identifier = (!key.is_empty()).then_some(key);
        }
        definition.modified_ms = self.now_ms();
        let answer = state_response!(UpdatePipeResponse, definition, PipeState::Updating);
        let running = definition.running();
        self.replace(&handle, definition).await?;
        if running {
            runner::start(&self.inner, &handle);
        }
        Ok(answer)
    }

    async fn delete_pipe(&self, input: DeletePipeRequest) -> Result<DeletePipeResponse, ApiError> {
        let _change = self.inner.changes.lock().await;
        let handle = self.handle(&input.name)?;
        let definition = handle.definition();
        self.inner
            .source
            .commit(vec![Write::DeleteResource {
                kind: KIND.into(),
                key: definition.arn.clone(),
            }])
            .await
            .map_err(internal)?;
        self.inner.pipes().remove(&input.name);
        handle.live.send_modify(|live| live.deleted = true);
        Ok(DeletePipeResponse {
            arn: Some(definition.arn.clone()),
            name: Some(definition.name.clone()),
            desired_state: Some(RequestedPipeStateDescribeResponse::Deleted),
            current_state: Some(PipeState::Deleting),
            creation_time: Some(seconds(definition.created_ms)),
            last_modified_time: Some(seconds(definition.modified_ms)),
        })
    }

    async fn start_pipe(&self, input: StartPipeRequest) -> Result<StartPipeResponse, ApiError> {
        let _change = self.inner.changes.lock().await;
        let handle = self.handle(&input.name)?;
        let mut definition = (*handle.definition()).clone();
        if definition.running() {
            return Ok(state_response!(
                StartPipeResponse,
                definition,
                PipeState::Running
            ));
        }
        definition.desired_state = RequestedPipeState::Running;
        definition.modified_ms = self.now_ms();
        let answer = state_response!(StartPipeResponse, definition, PipeState::Starting);
        self.replace(&handle, definition).await?;
        runner::start(&self.inner, &handle);
        Ok(answer)
    }

    async fn stop_pipe(&self, input: StopPipeRequest) -> Result<StopPipeResponse, ApiError> {
        let _change = self.inner.changes.lock().await;
        let handle = self.handle(&input.name)?;
        let mut definition = (*handle.definition()).clone();
        if !definition.running() {
            return Ok(state_response!(
                StopPipeResponse,
                definition,
                PipeState::Stopped
            ));
        }
        definition.desired_state = RequestedPipeState::Stopped;
        definition.modified_ms = self.now_ms();
        let answer = state_response!(StopPipeResponse, definition, PipeState::Stopping);
        self.replace(&handle, definition).await?;
        Ok(answer)
    }

    async fn list_pipes(&self, input: ListPipesRequest) -> Result<ListPipesResponse, ApiError> {
        let after = match &input.next_token {
            Some(token) => Some(
                sluice_types::page_token::decode(TOKEN_KIND, token)
                    .and_then(|cursor| String::from_utf8(cursor).ok())
                    .ok_or_else(|| validation("Invalid NextToken."))?,
            ),
            None => None,
        };
        let prefix = |value: &str, prefix: &Option<String>| {
            prefix.as_deref().is_none_or(|p| value.starts_with(p))
        };
        let all: Vec<Arc<Definition>> = self
            .inner
            .pipes()
            .values()
            .map(|h| h.definition())
            .filter(|d| after.as_deref().is_none_or(|after| d.name.as_str() > after))
            .filter(|d| prefix(&d.name, &input.name_prefix))
            .filter(|d| prefix(&d.source, &input.source_prefix))
            .filter(|d| prefix(&d.target, &input.target_prefix))
            .filter(|d| input.desired_state.is_none_or(|s| s == d.desired_state))
            .filter(|d| input.current_state.is_none_or(|s| s == d.current_state()))
            .collect();
        let size = input
            .limit
            .map_or(PAGE_SIZE, |n| (n.max(1) as usize).min(PAGE_SIZE));
        let page = &all[..size.min(all.len())];
        let next_token = (page.len() < all.len())
            .then(|| page.last())
            .flatten()
            .map(|d| sluice_types::page_token::encode(TOKEN_KIND, d.name.as_bytes()));
        Ok(ListPipesResponse {
            pipes: Some(
                page.iter()
                    .map(|d| Pipe {
                        name: Some(d.name.clone()),
                        arn: Some(d.arn.clone()),
                        desired_state: Some(d.desired_state),
                        current_state: Some(d.current_state()),
                        // A reason is given for failures only.
                        state_reason: None,
                        creation_time: Some(seconds(d.created_ms)),
                        last_modified_time: Some(seconds(d.modified_ms)),
                        source: Some(d.source.clone()),
                        target: Some(d.target.clone()),
                        enrichment: d.enrichment.clone(),
                    })
                    .collect(),
            ),
            next_token,
        })
    }

    async fn tag_resource(
        &self,
        input: TagResourceRequest,
    ) -> Result<TagResourceResponse, ApiError> {
        let _change = self.inner.changes.lock().await;
        let handle = self.by_arn(&input.resource_arn)?;
        let mut definition = (*handle.definition()).clone();
        definition.tags.extend(input.tags);
        self.retag(&handle, definition).await?;
        Ok(TagResourceResponse {})
    }

    async fn untag_resource(
        &self,
        input: UntagResourceRequest,
    ) -> Result<UntagResourceResponse, ApiError> {
        let _change = self.inner.changes.lock().await;
        let handle = self.by_arn(&input.resource_arn)?;
        let mut definition = (*handle.definition()).clone();
        for key in &input.tag_keys {
            definition.tags.remove(key);
        }
        self.retag(&handle, definition).await?;
        Ok(UntagResourceResponse {})
    }

    async fn list_tags_for_resource(
        &self,
        input: ListTagsForResourceRequest,
    ) -> Result<ListTagsForResourceResponse, ApiError> {
        let handle = self.by_arn(&input.resource_arn)?;
        Ok(ListTagsForResourceResponse {
            tags: Some(handle.definition().tags.clone()),
        })
    }
}

impl PipesBackend {
    /// Stores new tags without disturbing the poller (no change it must follow).
    async fn retag(&self, handle: &Handle, definition: Definition) -> Result<(), ApiError> {
        self.persist(&definition).await?;
        handle.live.send_if_modified(|live| {
            live.definition = Arc::new(definition);
            false
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(source: &str, target: &str) -> Definition {
        Definition {
            name: "p".into(),
            arn: "arn:aws:pipes:us-east-1:000000000000:pipe/p".into(),
            description: None,
            desired_state: RequestedPipeState::Running,
            source: source.into(),
            source_parameters: None,
            enrichment: None,
            enrichment_parameters: None,
            target: target.into(),
            target_parameters: None,
            role_arn: "arn:aws:iam::000000000000:role/r".into(),
            tags: BTreeMap::new(),
            log_configuration: None,
            kms_key_identifier: None,
            created_ms: 0,
            modified_ms: 0,
        }
    }

    const QUEUE: &str = "arn:aws:sqs:us-east-1:000000000000:in";

    fn refusal(definition: &Definition) -> String {
        let error = compile(definition).err().expect("refused");
        assert_eq!(error.kind, "ValidationException");
        error.message
    }

    #[test]
    fn sources_other_than_queues_and_streams_are_refused_by_type() {
        let message = refusal(&definition(
            "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2026",
            "arn:aws:sns:us-east-1:000000000000:t",
        ));
        assert!(message.contains("the source type is dynamodb"), "{message}");
        // A stream source needs its parameters.
        let message = refusal(&definition(
            "arn:aws:kinesis:us-east-1:000000000000:stream/s",
            "arn:aws:sns:us-east-1:000000000000:t",
        ));
        assert!(message.contains("KinesisStreamParameters"), "{message}");
        let message = refusal(&definition(
            QUEUE,
            "arn:aws:events:us-east-1:000000000000:event-bus/b",
        ));
        assert!(message.contains("the target type is events"), "{message}");
    }

    #[test]
    fn targets_compile_with_their_invocation_types() {
        let plan = compile(&definition(
            QUEUE,
            "arn:aws:lambda:us-east-1:000000000000:function:f:live",
        ))
        .unwrap();
        assert_eq!(
            plan.target,
            Target::Function {
                region: "us-east-1".into(),
                name: "f".into(),
                qualifier: Some("live".into()),
                fire_and_forget: false
            }
        );
        assert_eq!(plan.batch_size, 10);
        let mut machine = definition(
            QUEUE,
            "arn:aws:states:us-east-1:000000000000:stateMachine:m",
        );
        assert!(matches!(
            compile(&machine).unwrap().target,
            Target::StateMachine { sync: true, .. }
        ));
        machine.target_parameters = serde_json::from_value(serde_json::json!({
            "StepFunctionStateMachineParameters": {"InvocationType": "FIRE_AND_FORGET"}
        }))
        .unwrap();
        assert!(matches!(
            compile(&machine).unwrap().target,
            Target::StateMachine { sync: false, .. }
        ));
        let fifo = definition(QUEUE, "arn:aws:sqs:us-east-1:000000000000:out.fifo");
        assert!(refusal(&fifo).contains("MessageGroupId is required"));
    }

    #[test]
    fn batching_templates_and_filters_are_checked() {
        let mut pipe = definition(QUEUE, "arn:aws:sns:us-east-1:000000000000:t");
        pipe.source_parameters = serde_json::from_value(serde_json::json!({
            "SqsQueueParameters": {"BatchSize": 100}
        }))
        .unwrap();
        assert!(refusal(&pipe).contains("greater than 0 if maximum batch size"));
        pipe.source_parameters = serde_json::from_value(serde_json::json!({
            "FilterCriteria": {"Filters": [{"Pattern": "{\"body\": \"x\"}"}]}
        }))
        .unwrap();
        assert!(refusal(&pipe).starts_with("Invalid filter pattern definition"));
        pipe.source_parameters = None;
        pipe.target_parameters = serde_json::from_value(serde_json::json!({
            "InputTemplate": "{\"a\": <aws.pipes.nope>}"
        }))
        .unwrap();
        assert_eq!(
            refusal(&pipe),
            "TargetParameters.InputTemplate: Unsupported variable <aws.pipes.nope> in InputTemplate."
        );
    }
}
