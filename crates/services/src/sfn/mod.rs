//! [`Backend`]: the Step Functions API over the engine and the store — what each operation
//! means, answered with AWS's fields, timestamps (epoch seconds) and errors.
//!
//! State machines, their versions and aliases live in the store; executions go through the
//! engine (STANDARD durable, EXPRESS in memory with a bounded retention), each recording the
//! version and alias it was started through and the revision it runs. Read-modify-write of a
//! state machine or alias record (create, update, publish, tag, delete a version) is
//! serialized by one lock so that concurrent requests cannot lose each other's changes.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_api::ApiError;
use sluice_api::sfn::StatesArns as _;
use sluice_api::sfn::model::{
    CloudWatchEventsExecutionDataDetails, CreateStateMachineInput, CreateStateMachineOutput,
    DeleteStateMachineInput, DeleteStateMachineOutput, DeleteStateMachineVersionInput,
    DeleteStateMachineVersionOutput, DescribeExecutionInput, DescribeExecutionOutput,
    DescribeStateMachineForExecutionInput, DescribeStateMachineForExecutionOutput,
    DescribeStateMachineInput, DescribeStateMachineOutput, ExecutionListItem,
    ExecutionRedriveStatus, ExecutionStatus, GetExecutionHistoryInput, GetExecutionHistoryOutput,
    HistoryEvent, ListExecutionsInput, ListExecutionsOutput, ListStateMachineVersionsInput,
    ListStateMachineVersionsOutput, ListStateMachinesInput, ListStateMachinesOutput,
    ListTagsForResourceInput, ListTagsForResourceOutput, LogLevel, LoggingConfiguration,
    PublishStateMachineVersionInput, PublishStateMachineVersionOutput, RedriveExecutionInput,
    RedriveExecutionOutput, StartExecutionInput, StartExecutionOutput, StartSyncExecutionInput,
    StartSyncExecutionOutput, StateMachineListItem, StateMachineStatus, StateMachineType,
    StateMachineVersionListItem, StopExecutionInput, StopExecutionOutput, SyncExecutionStatus, Tag,
    TagResourceInput, TagResourceOutput, TracingConfiguration, UntagResourceInput,
    UntagResourceOutput, UpdateStateMachineInput, UpdateStateMachineOutput,
    ValidateStateMachineDefinitionDiagnostic, ValidateStateMachineDefinitionInput,
    ValidateStateMachineDefinitionOutput, ValidateStateMachineDefinitionResultCode,
    ValidateStateMachineDefinitionSeverity,
};
use sluice_api::sfn::model::{
    CreateStateMachineAliasInput, CreateStateMachineAliasOutput, DeleteStateMachineAliasInput,
    DeleteStateMachineAliasOutput, DescribeStateMachineAliasInput, DescribeStateMachineAliasOutput,
    ExecutionRedriveFilter, ListStateMachineAliasesInput, ListStateMachineAliasesOutput,
    UpdateStateMachineAliasInput, UpdateStateMachineAliasOutput,
};
use sluice_api::sfn::pagination::DEFAULT_PAGE_SIZE;
use sluice_api::sfn::{Arn, Page, Resource, Scope, StepFunctions, validate_name};
use sluice_asl::Severity;
use sluice_asl::validate::validate;
use sluice_engine::{Dispatch, Engine, EngineError, ExecutionInput, redrivable};
use sluice_store::{
    ExecutionFilter, ExecutionRecord, ExecutionStatus as RecordStatus, MachineType,
    StateMachineRecord, Store, Write,
};

// Aliases: their operations and how a start through one picks a version.
mod aliases;
// Task callbacks (SendTaskSuccess and kin), and what an EXPRESS machine may not contain.
mod callbacks;
// DescribeMapRun, ListMapRuns, UpdateMapRun.
mod map_runs;
// Activities: Create/Describe/Delete/ListActivities and their tags.
mod activities;
// TestState: one state, run in the request.
mod test_state;
// The tags of machines and activities: their checks.
mod tags;

/// Separates a mock test case from the state machine ARN, as Step Functions Local does:
/// `arn:aws:states:...:stateMachine:name#HappyPath`.
const TEST_CASE_SEPARATOR: char = '#';

/// The Step Functions API on an [`Engine`] and its store.
pub struct Backend<S: Store, D: Dispatch> {
    engine: Engine<S, D>,
    scope: Scope,
    /// `arn:<partition>:states:<region>:<account>:` of `scope`: what the ARNs of its machines
    /// start with.
    scope_prefix: String,
    /// Held across the read-modify-write of state machine records.
    machines: tokio::sync::Mutex<()>,
}

impl<S: Store, D: Dispatch> Backend<S, D> {
    /// A backend whose ARNs live in `scope` (region and account), unless a request was signed
    /// for another region (see [`Backend::scope`]).
    pub fn new(engine: Engine<S, D>, scope: Scope) -> Self {
        let scope_prefix = format!(
            "arn:{}:states:{}:{}:",
            scope.partition, scope.region, scope.account
        );
        Self {
            engine,
            scope,
            scope_prefix,
            machines: tokio::sync::Mutex::new(()),
        }
    }

    fn store(&self) -> &S {
        self.engine.store()
    }

    /// Where a new resource of this request lives: the region the client signed for (and its
    /// partition), as on AWS, else the configured one; always the configured account.
    fn scope(&self) -> Scope {
        match sluice_api::gateway::signed_region() {
            Some(region) if region != self.scope.region => {
                Scope::new(region, self.scope.account.clone())
            }
            _ => self.scope.clone(),
        }
    }

    /// The scope of an existing state machine (its executions and versions live beside it):
    /// borrowed when it is the configured one, as nearly always (no copy per execution).
    fn scope_of(&self, machine_arn: &str) -> Cow<'_, Scope> {
        if machine_arn.starts_with(&self.scope_prefix) {
            return Cow::Borrowed(&self.scope);
        }
        match sluice_types::Arn::parse(machine_arn) {
            Ok(arn)
                if arn.service == "states" && !arn.region.is_empty() && !arn.account.is_empty() =>
            {
                if arn.is_in(&self.scope) {
                    Cow::Borrowed(&self.scope)
                } else {
                    Cow::Owned(arn.scope())
                }
            }
            _ => Cow::Borrowed(&self.scope),
        }
    }

    fn now_ms(&self) -> i64 {
        self.engine.clock().now_ms()
    }

    /// The machine or version `arn` names, else `StateMachineDoesNotExist`. The store serves
    /// machine records from memory, so a start reads nothing from disk.
    async fn machine(&self, arn: &str) -> Result<StateMachineRecord, ApiError> {
        self.store()
            .state_machine(arn)
            .await
            .map_err(store_error)?
            .ok_or_else(|| ApiError::state_machine_does_not_exist(arn))
    }

    /// Commits writes of machine records.
    async fn commit_machines(&self, writes: Vec<Write>) -> Result<(), ApiError> {
        self.store().commit(writes).await.map_err(store_error)
    }

    /// The execution `arn` names (STANDARD or recent EXPRESS), else `ExecutionDoesNotExist`.
    async fn execution(&self, arn: &str) -> Result<ExecutionRecord, ApiError> {
        Arn::parse_execution(arn)?;
        self.engine
            .execution(arn)
            .await
            .map_err(engine_error)?
            .ok_or_else(|| ApiError::execution_does_not_exist(arn))
    }

    /// The next version of `machine` (whose `extra` records the new latest number), or the
    /// latest version when it already holds the machine's current revision (AWS publishes a
    /// revision once).
    async fn next_version(
        &self,
        machine: &mut StateMachineRecord,
        description: Option<String>,
        now_ms: i64,
    ) -> Result<Version, ApiError> {
        let versions = self
            .store()
            .versions(&machine.arn)
            .await
            .map_err(store_error)?;
        if let Some(latest) = versions.first()
            && latest.revision_id == machine.revision_id
        {
            return Ok(Version::Existing(latest.clone()));
        }
        let mut extra = Extra::of(machine);
        let highest = versions.first().and_then(|v| v.version).unwrap_or(0);
        let number = extra.latest_version.max(highest) + 1;
        extra.latest_version = number;
        machine.extra = Some(extra.to_json());
        Ok(Version::New(StateMachineRecord {
            arn: self
                .scope_of(&machine.arn)
                .version_arn(&machine.name, number),
            description,
            created_ms: now_ms,
            updated_ms: now_ms,
            tags: Vec::new(),
            version: Some(number),
            ..machine.clone()
        }))
    }

    /// Writes `machine` and, if new, its version; the version's ARN and creation time.
    async fn commit_machine(
        &self,
        machine: StateMachineRecord,
        version: Option<Version>,
    ) -> Result<Option<StateMachineRecord>, ApiError> {
        let mut writes = vec![Write::PutStateMachine(machine)];
        let version = match version {
            Some(Version::New(v)) => {
                writes.push(Write::PutStateMachine(v.clone()));
                Some(v)
            }
            Some(Version::Existing(v)) => Some(v),
            None => None,
        };
        self.commit_machines(writes).await?;
        Ok(version)
    }

    /// StartExecution/StartSyncExecution's common checks: the machine (the ARN without its
    /// `#TestCase`; through an alias, the version it routes this execution to), the execution
    /// name and the input text.
    async fn prepare_start(
        &self,
        state_machine_arn: &str,
        name: Option<String>,
        input: Option<String>,
    ) -> Result<Start, ApiError> {
        let (arn, test_case) = match state_machine_arn.split_once(TEST_CASE_SEPARATOR) {
            Some((arn, case)) => (arn, Some(case.to_string())),
            None => (state_machine_arn, None),
        };
        let parsed = Arn::parse_state_machine(arn)?;
        if let Some(name) = &name {
            validate_name(name)?;
        }
        let input = input.unwrap_or_else(|| "{}".to_string());
        // Parsed once here, for the check and for the engine.
        let input_value: serde_json::Value = match sluice_asl::json::parse(&input) {
            Ok(value) => value,
            Err(error) => return Err(ApiError::invalid_execution_input(error)),
        };
        let (machine, alias_arn) = match parsed.resource {
            Resource::StateMachineAlias { .. } => (self.route(arn).await?, Some(arn.to_string())),
            _ => (self.machine(arn).await?, None),
        };
        Ok(Start {
            machine,
            name: name.unwrap_or_else(new_id),
            input,
            input_value,
            test_case,
            alias_arn,
        })
    }

    /// AWS's name idempotency for StartExecution: the same name and input as a RUNNING
    /// execution returns it; anything else is `ExecutionAlreadyExists`.
    fn same_execution(
        existing: &ExecutionRecord,
        input: &str,
    ) -> Result<StartExecutionOutput, ApiError> {
        if existing.status == RecordStatus::Running && existing.input == input {
            Ok(StartExecutionOutput {
                execution_arn: existing.arn.clone(),
                start_date: secs(existing.start_ms),
            })
        } else {
            Err(ApiError::execution_already_exists(&existing.arn))
        }
    }

    /// A state machine for TagResource and its kin, which take activities too
    /// (`activity_tags`, asked first). Versions and aliases have no tags of their own: as an
    /// unknown machine, `ResourceNotFound` (recorded against AWS for a version).
    async fn taggable(&self, resource_arn: &str) -> Result<StateMachineRecord, ApiError> {
        let arn = Arn::parse(resource_arn)?;
        match arn.resource {
            Resource::StateMachine { .. } => {}
            Resource::StateMachineVersion { .. } | Resource::StateMachineAlias { .. } => {
                return Err(ApiError::tagged_resource_not_found(resource_arn));
            }
            _ => {
                return Err(ApiError::invalid_arn(format_args!(
                    "Resource type not valid in this context: {}",
                    arn.resource_type().as_str().to_ascii_lowercase()
                )));
            }
        }
        self.store()
            .state_machine(resource_arn)
            .await
            .map_err(store_error)?
            .ok_or_else(|| ApiError::tagged_resource_not_found(resource_arn))
    }
}

struct Start {
    machine: StateMachineRecord,
    name: String,
    input: String,
    /// `input`, parsed.
    input_value: serde_json::Value,
    test_case: Option<String>,
    /// The alias the machine (a version) was chosen through.
    alias_arn: Option<String>,
}

enum Version {
    New(StateMachineRecord),
    Existing(StateMachineRecord),
}

/// What a machine record keeps in `extra`: the configurations AWS echoes back and the highest
/// version number ever published (numbers are never reused, even after a version is deleted).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Extra {
    #[serde(skip_serializing_if = "Option::is_none")]
    logging_configuration: Option<LoggingConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tracing_configuration: Option<TracingConfiguration>,
    latest_version: u64,
}

impl Extra {
    fn of(record: &StateMachineRecord) -> Self {
        record
            .extra
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default()
    }

    fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The logging configuration to show: AWS shows `{"level":"OFF"}` when none was given.
    fn logging(&self) -> LoggingConfiguration {
        self.logging_configuration
            .clone()
            .unwrap_or(LoggingConfiguration {
                level: Some(LogLevel::Off),
                include_execution_data: Some(false),
                destinations: None,
            })
    }

    fn tracing(&self) -> TracingConfiguration {
        self.tracing_configuration
            .clone()
            .unwrap_or(TracingConfiguration {
                enabled: Some(false),
            })
    }
}

// ---------------------------------------------------------------------------------------------
// Conversions

/// Milliseconds since the epoch as the wire's epoch seconds.
fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn new_id() -> String {
    sluice_api::request_id::uuid_v4()
}

fn store_error(error: sluice_store::Error) -> ApiError {
    match error {
        sluice_store::Error::InvalidToken => ApiError::invalid_token("Invalid token"),
        // A full disk or failing I/O: the SDKs back off and retry a 503.
        sluice_store::Error::Storage(reason) => {
            tracing::warn!(%reason, "store cannot write");
            ApiError::new(
                "ServiceUnavailable",
                "The service cannot store the request right now; retry it later",
            )
            .with_status(503)
        }
        other => {
            tracing::error!(error = %other, "store failed");
            ApiError::internal(format!("Internal failure: {}", other.code()))
        }
    }
}

fn engine_error(error: EngineError) -> ApiError {
    match error {
        EngineError::InvalidDefinition(detail) => ApiError::invalid_definition(detail),
        EngineError::ExecutionAlreadyExists(arn) => ApiError::execution_already_exists(&arn),
        EngineError::ExecutionDoesNotExist(arn) => ApiError::execution_does_not_exist(&arn),
        EngineError::InvalidInput(detail) => ApiError::invalid_execution_input(detail),
        EngineError::ExecutionNotRedrivable(reason) => ApiError::execution_not_redrivable(reason),
        EngineError::Store(error) => store_error(error),
        #[allow(unreachable_patterns)]
        other => {
            tracing::error!(error = %other, "engine failed");
            ApiError::internal(other.to_string())
        }
    }
}

fn machine_type(t: MachineType) -> StateMachineType {
    match t {
        MachineType::Standard => StateMachineType::Standard,
        MachineType::Express => StateMachineType::Express,
    }
}

/// A stored status as the API's enum (the same values, both from AWS's model).
fn execution_status(status: RecordStatus) -> ExecutionStatus {
    match status {
        RecordStatus::Running => ExecutionStatus::Running,
        RecordStatus::Succeeded => ExecutionStatus::Succeeded,
        RecordStatus::Failed => ExecutionStatus::Failed,
        RecordStatus::TimedOut => ExecutionStatus::TimedOut,
        RecordStatus::Aborted => ExecutionStatus::Aborted,
        RecordStatus::PendingRedrive => ExecutionStatus::PendingRedrive,
    }
}

/// The API's status filter as the store's status.
fn record_status(status: ExecutionStatus) -> RecordStatus {
    match status {
        ExecutionStatus::Running => RecordStatus::Running,
        ExecutionStatus::Succeeded => RecordStatus::Succeeded,
        ExecutionStatus::Failed => RecordStatus::Failed,
        ExecutionStatus::TimedOut => RecordStatus::TimedOut,
        ExecutionStatus::Aborted => RecordStatus::Aborted,
        ExecutionStatus::PendingRedrive => RecordStatus::PendingRedrive,
    }
}

/// A state machine definition's errors as AWS's `InvalidDefinition`:
/// `Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: <message> at <location>, ...'`.
fn check_definition(definition: &str) -> Result<(), ApiError> {
    let validation = validate(definition);
    if validation.is_ok() {
        return Ok(());
    }
    Err(ApiError::invalid_definition(validation.errors()))
}

/// A state machine's role: an IAM role ARN (`arn:<partition>:iam::<account>:role/<name>`, a
/// path may come before the name), else AWS's `InvalidArn`: `Invalid Role Arn: '<arn>'`.
/// Sluice has no IAM: any role of that form is taken.
fn check_role_arn(arn: &str) -> Result<(), ApiError> {
    let valid = sluice_types::Arn::parse(arn).is_ok_and(|role| {
        let account_ok =
            role.account.len() == 12 && role.account.bytes().all(|b| b.is_ascii_digit());
        let name_ok = role.resource.strip_prefix("role/").is_some_and(|name| {
            !name.is_empty()
                && !name.ends_with('/')
                && name.bytes().all(|b| (b'!'..=b'~').contains(&b))
        });
        role.service == "iam" && role.region.is_empty() && account_ok && name_ok
    });
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid_role_arn(arn))
    }
}

/// The machine an execution belongs to and, when it was started from a version, the version:
/// `(stateMachineArn, stateMachineVersionArn)`.
fn machine_of_execution(record: &ExecutionRecord) -> (String, Option<String>) {
    match Arn::parse(&record.state_machine_arn) {
        Ok(
            arn @ Arn {
                resource: Resource::StateMachineVersion { .. },
                ..
            },
        ) => (
            arn.state_machine_arn().unwrap_or_default(),
            Some(record.state_machine_arn.clone()),
        ),
        _ => (record.state_machine_arn.clone(), None),
    }
}

/// A stored history event (the engine's JSON, ISO timestamp) as GetExecutionHistory sends it:
/// `timestamp` in epoch seconds; without execution data, no `input`/`output` members.
fn wire_event(body: &str, include_data: bool) -> Result<HistoryEvent, ApiError> {
    let bad = |what: String| {
        tracing::error!(event = body, "{what}");
        ApiError::internal(format!(
            "Internal failure: unreadable history event ({what})"
        ))
    };
    let mut value: Value = serde_json::from_str(body).map_err(|e| bad(e.to_string()))?;
    if let Some(event) = value.as_object_mut() {
        if let Some(Value::String(text)) = event.get("timestamp") {
            let at = chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|e| bad(format!("timestamp '{text}': {e}")))?;
            event.insert("timestamp".into(), Value::from(secs(at.timestamp_millis())));
        }
        if !include_data {
            for (key, details) in event.iter_mut() {
                if let (true, Some(details)) =
                    (key.ends_with("EventDetails"), details.as_object_mut())
                {
                    for member in ["input", "inputDetails", "output", "outputDetails"] {
                        details.remove(member);
                    }
                }
            }
        }
    }
    serde_json::from_value(value).map_err(|e| bad(e.to_string()))
}

/// The page size a list request asks for (`maxResults` absent or 0: AWS's default).
fn page_size(max_results: Option<i32>) -> usize {
    match max_results {
        Some(n) if n > 0 => n as usize,
        _ => DEFAULT_PAGE_SIZE,
    }
}

const NOT_FOR_THIS_TYPE: &str = "This operation is not supported by this type of state machine";

// ---------------------------------------------------------------------------------------------
// The operations

impl<S: Store, D: Dispatch> StepFunctions for Backend<S, D> {
    async fn create_state_machine(
        &self,
        input: CreateStateMachineInput,
    ) -> Result<CreateStateMachineOutput, ApiError> {
        let requested_tags = tags::requested(input.tags)?;
        validate_name(&input.name)?;
        check_role_arn(&input.role_arn)?;
        let publish = input.publish.unwrap_or(false);
        if input.version_description.is_some() && !publish {
            return Err(ApiError::validation(
                "Version description can only be set when publish is true",
            ));
        }
        check_definition(&input.definition)?;
        let kind = match input.r#type {
            Some(StateMachineType::Express) => MachineType::Express,
            _ => MachineType::Standard,
        };
        if kind == MachineType::Express {
            callbacks::check_express(&input.definition)?;
        }
        let arn = self.scope().state_machine_arn(&input.name);
        tags::check_count(&requested_tags, &arn)?;
        let _guard = self.machines.lock().await;
        let now = self.now_ms();
        if let Some(mut existing) = self
            .store()
            .state_machine(&arn)
            .await
            .map_err(store_error)?
        {
            // AWS: idempotent on name, definition, type and configurations; a different role
            // or tags are ignored. Anything else is a conflict.
            let extra = Extra::of(&existing);
            let same = existing.definition == input.definition
                && existing.machine_type == kind
                && extra.logging_configuration == input.logging_configuration
                && extra.tracing_configuration == input.tracing_configuration;
            if !same {
                return Err(ApiError::state_machine_already_exists(&arn));
            }
            let version = if publish {
                let v = self
                    .next_version(&mut existing, input.version_description, now)
                    .await?;
                self.commit_machine(existing.clone(), Some(v)).await?
            } else {
                None
            };
            return Ok(CreateStateMachineOutput {
                state_machine_arn: arn,
                creation_date: secs(existing.created_ms),
                state_machine_version_arn: version.map(|v| v.arn),
            });
        }
        let extra = Extra {
            logging_configuration: input.logging_configuration,
            tracing_configuration: input.tracing_configuration,
            latest_version: 0,
        };
        let mut machine = StateMachineRecord {
            arn: arn.clone(),
            name: input.name,
            machine_type: kind,
            definition: input.definition,
            role_arn: input.role_arn,
            description: None,
            created_ms: now,
            updated_ms: now,
            revision_id: new_id(),
            tags: requested_tags,
            extra: Some(extra.to_json()),
            version: None,
        };
        let version = if publish {
            Some(
                self.next_version(&mut machine, input.version_description, now)
                    .await?,
            )
        } else {
            None
        };
        let version = self.commit_machine(machine, version).await?;
        Ok(CreateStateMachineOutput {
            state_machine_arn: arn,
            creation_date: secs(now),
            state_machine_version_arn: version.map(|v| v.arn),
        })
    }

    async fn create_state_machine_alias(
        &self,
        input: CreateStateMachineAliasInput,
    ) -> Result<CreateStateMachineAliasOutput, ApiError> {
        self.create_alias(input).await
    }

    async fn describe_state_machine_alias(
        &self,
        input: DescribeStateMachineAliasInput,
    ) -> Result<DescribeStateMachineAliasOutput, ApiError> {
        self.describe_alias(input).await
    }

    async fn update_state_machine_alias(
        &self,
        input: UpdateStateMachineAliasInput,
    ) -> Result<UpdateStateMachineAliasOutput, ApiError> {
        self.update_alias(input).await
    }

    async fn delete_state_machine_alias(
        &self,
        input: DeleteStateMachineAliasInput,
    ) -> Result<DeleteStateMachineAliasOutput, ApiError> {
        self.delete_alias(input).await
    }

    async fn list_state_machine_aliases(
        &self,
        input: ListStateMachineAliasesInput,
    ) -> Result<ListStateMachineAliasesOutput, ApiError> {
        self.list_aliases(input).await
    }

    async fn describe_state_machine(
        &self,
        input: DescribeStateMachineInput,
    ) -> Result<DescribeStateMachineOutput, ApiError> {
        Arn::parse_state_machine(&input.state_machine_arn)?;
        let record = self.machine(&input.state_machine_arn).await?;
        let extra = Extra::of(&record);
        let variable_references = variable_references(&record.definition);
        Ok(DescribeStateMachineOutput {
            variable_references,
            state_machine_arn: record.arn,
            name: record.name,
            status: Some(StateMachineStatus::Active),
            definition: record.definition,
            role_arn: record.role_arn,
            r#type: machine_type(record.machine_type),
            creation_date: secs(record.created_ms),
            logging_configuration: Some(extra.logging()),
            tracing_configuration: Some(extra.tracing()),
            revision_id: Some(record.revision_id),
            description: record.description,
            ..DescribeStateMachineOutput::default()
        })
    }

    async fn update_state_machine(
        &self,
        input: UpdateStateMachineInput,
    ) -> Result<UpdateStateMachineOutput, ApiError> {
        let arn = Arn::parse_state_machine(&input.state_machine_arn)?;
        if !matches!(arn.resource, Resource::StateMachine { .. }) {
            return Err(ApiError::validation(
                "Service does not support updating a state machine version or alias; \
                 update the unqualified state machine ARN",
            ));
        }
        if input.definition.is_none()
            && input.role_arn.is_none()
            && input.logging_configuration.is_none()
            && input.tracing_configuration.is_none()
            && input.encryption_configuration.is_none()
        {
            return Err(ApiError::missing_required_parameter(
                "Either the definition, the role ARN, the LoggingConfiguration, the \
                 EncryptionConfiguration or the TracingConfiguration must be specified",
            ));
        }
        let publish = input.publish.unwrap_or(false);
        if input.version_description.is_some() && !publish {
            return Err(ApiError::validation(
                "Version description can only be set when publish is true",
            ));
        }
        if let Some(role) = &input.role_arn {
            check_role_arn(role)?;
        }
        if let Some(definition) = &input.definition {
            check_definition(definition)?;
        }
        let _guard = self.machines.lock().await;
        let mut machine = self.machine(&input.state_machine_arn).await?;
        if let Some(definition) = &input.definition
            && machine.machine_type == MachineType::Express
        {
            callbacks::check_express(definition)?;
        }
        let now = self.now_ms();
        let mut extra = Extra::of(&machine);
        let mut changed = false;
        if let Some(definition) = input.definition
            && definition != machine.definition
        {
            machine.definition = definition;
            changed = true;
        }
        if let Some(role) = input.role_arn
            && role != machine.role_arn
        {
            machine.role_arn = role;
            changed = true;
        }
        if let Some(logging) = input.logging_configuration
            && extra.logging_configuration.as_ref() != Some(&logging)
        {
            extra.logging_configuration = Some(logging);
            changed = true;
        }
        if let Some(tracing) = input.tracing_configuration
            && extra.tracing_configuration.as_ref() != Some(&tracing)
        {
            extra.tracing_configuration = Some(tracing);
            changed = true;
        }
        machine.extra = Some(extra.to_json());
        if changed {
            machine.revision_id = new_id();
        }
        machine.updated_ms = now;
        let version = if publish {
            Some(
                self.next_version(&mut machine, input.version_description, now)
                    .await?,
            )
        } else {
            None
        };
        let revision_id = machine.revision_id.clone();
        let version = self.commit_machine(machine, version).await?;
        Ok(UpdateStateMachineOutput {
            update_date: secs(now),
            revision_id: Some(revision_id),
            state_machine_version_arn: version.map(|v| v.arn),
        })
    }

    async fn delete_state_machine(
        &self,
        input: DeleteStateMachineInput,
    ) -> Result<DeleteStateMachineOutput, ApiError> {
        let arn = Arn::parse_state_machine(&input.state_machine_arn)?;
        if !matches!(arn.resource, Resource::StateMachine { .. }) {
            return Err(ApiError::validation(
                "Service does not support deleting a state machine version or alias with \
                 DeleteStateMachine; use DeleteStateMachineVersion",
            ));
        }
        let _guard = self.machines.lock().await;
        // As on AWS, deleting a state machine that does not exist succeeds.
        self.commit_machines(vec![Write::DeleteStateMachine {
            arn: input.state_machine_arn,
        }])
        .await?;
        Ok(DeleteStateMachineOutput {})
    }

    async fn delete_state_machine_version(
        &self,
        input: DeleteStateMachineVersionInput,
    ) -> Result<DeleteStateMachineVersionOutput, ApiError> {
        let arn = Arn::parse_state_machine(&input.state_machine_version_arn)?;
        if !matches!(arn.resource, Resource::StateMachineVersion { .. }) {
            return Err(ApiError::validation(format!(
                "Invalid version ARN: {}",
                input.state_machine_version_arn
            )));
        }
        let _guard = self.machines.lock().await;
        self.check_unreferenced(&input.state_machine_version_arn)
            .await?;
        self.commit_machines(vec![Write::DeleteStateMachine {
            arn: input.state_machine_version_arn,
        }])
        .await?;
        Ok(DeleteStateMachineVersionOutput {})
    }

    async fn list_state_machines(
        &self,
        input: ListStateMachinesInput,
    ) -> Result<ListStateMachinesOutput, ApiError> {
        let page = self
            .store()
            .state_machines(
                &self.scope().state_machine_arn(""),
                input.next_token.as_deref(),
                page_size(input.max_results),
            )
            .await
            .map_err(store_error)?;
        Ok(ListStateMachinesOutput {
            state_machines: page
                .items
                .into_iter()
                .map(|m| StateMachineListItem {
                    state_machine_arn: m.arn,
                    name: m.name,
                    r#type: machine_type(m.machine_type),
                    creation_date: secs(m.created_ms),
                })
                .collect(),
            next_token: page.next,
        })
    }

    async fn list_state_machine_versions(
        &self,
        input: ListStateMachineVersionsInput,
    ) -> Result<ListStateMachineVersionsOutput, ApiError> {
        let arn = Arn::parse_state_machine(&input.state_machine_arn)?;
        if !matches!(arn.resource, Resource::StateMachine { .. }) {
            return Err(ApiError::validation(
                "Expected an unqualified state machine ARN",
            ));
        }
        let page = Page::from_request(input.next_token.as_deref(), input.max_results)?;
        let versions = self
            .store()
            .versions(&input.state_machine_arn)
            .await
            .map_err(store_error)?;
        // Newest first; the cursor sorts the same way, so a deleted cursor resumes in order.
        let (items, next_token) = page.take(versions, |v| {
            format!("{:020}", u64::MAX - v.version.unwrap_or(0))
        });
        Ok(ListStateMachineVersionsOutput {
            state_machine_versions: items
                .into_iter()
                .map(|v| StateMachineVersionListItem {
                    state_machine_version_arn: v.arn,
                    creation_date: secs(v.created_ms),
                })
                .collect(),
            next_token,
        })
    }

    async fn publish_state_machine_version(
        &self,
        input: PublishStateMachineVersionInput,
    ) -> Result<PublishStateMachineVersionOutput, ApiError> {
        let arn = Arn::parse_state_machine(&input.state_machine_arn)?;
        if !matches!(arn.resource, Resource::StateMachine { .. }) {
            return Err(ApiError::validation(
                "Expected an unqualified state machine ARN",
            ));
        }
        let _guard = self.machines.lock().await;
        let mut machine = self.machine(&input.state_machine_arn).await?;
        if let Some(revision) = &input.revision_id
            && *revision != machine.revision_id
        {
            return Err(ApiError::conflict(format!(
                "Failed to publish the State Machine version: revisionId '{revision}' is not \
                 the current revision '{}'",
                machine.revision_id
            )));
        }
        let now = self.now_ms();
        let version = self
            .next_version(&mut machine, input.description, now)
            .await?;
        let version = self
            .commit_machine(machine, Some(version))
            .await?
            .ok_or_else(|| ApiError::internal("no version published"))?;
        Ok(PublishStateMachineVersionOutput {
            creation_date: secs(version.created_ms),
            state_machine_version_arn: version.arn,
        })
    }

    async fn validate_state_machine_definition(
        &self,
        input: ValidateStateMachineDefinitionInput,
    ) -> Result<ValidateStateMachineDefinitionOutput, ApiError> {
        let validation = validate(&input.definition);
        let with_warnings = matches!(
            input.severity,
            Some(ValidateStateMachineDefinitionSeverity::Warning)
        );
        let limit = page_size(input.max_results);
        let mut diagnostics: Vec<ValidateStateMachineDefinitionDiagnostic> = validation
            .diagnostics
            .iter()
            .filter(|d| with_warnings || d.diagnostic.severity == Severity::Error)
            .map(|d| ValidateStateMachineDefinitionDiagnostic {
                severity: match d.diagnostic.severity {
                    Severity::Error => ValidateStateMachineDefinitionSeverity::Error,
                    Severity::Warning => ValidateStateMachineDefinitionSeverity::Warning,
                },
                code: d.diagnostic.code.to_string(),
                message: d.diagnostic.message.clone(),
                location: Some(d.diagnostic.location.to_string()),
            })
            .collect();
        let express = match (&input.r#type, validation.is_ok()) {
            (Some(StateMachineType::Express), true) => callbacks::express_errors(&input.definition),
            _ => Vec::new(),
        };
        let express_ok = express.is_empty();
        diagnostics.extend(
            express
                .into_iter()
                .map(|d| ValidateStateMachineDefinitionDiagnostic {
                    severity: ValidateStateMachineDefinitionSeverity::Error,
                    code: d.code.to_string(),
                    message: d.message,
                    location: Some(d.location.to_string()),
                }),
        );
        let truncated = diagnostics.len() > limit;
        diagnostics.truncate(limit);
        Ok(ValidateStateMachineDefinitionOutput {
            result: if validation.is_ok() && express_ok {
                ValidateStateMachineDefinitionResultCode::Ok
            } else {
                ValidateStateMachineDefinitionResultCode::Fail
            },
            diagnostics,
            truncated: Some(truncated),
        })
    }

    async fn start_execution(
        &self,
        input: StartExecutionInput,
    ) -> Result<StartExecutionOutput, ApiError> {
        let start = self
            .prepare_start(&input.state_machine_arn, input.name, input.input)
            .await?;
        let machine = &start.machine;
        let arn = match machine.machine_type {
            MachineType::Standard => self
                .scope_of(&machine.arn)
                .execution_arn(&machine.name, &start.name),
            MachineType::Express => self.scope_of(&machine.arn).express_execution_arn(
                &machine.name,
                &start.name,
                &new_id(),
            ),
        };
        // A name already taken is found by the insert itself (one read fewer per start): the
        // commit fails with ExecutionAlreadyExists and nothing of the new one was performed.
        match self
            .engine
            .start(
                machine,
                arn.clone(),
                start.name,
                ExecutionInput::Parsed {
                    text: start.input.clone(),
                    value: start.input_value,
                },
                start.test_case,
                start.alias_arn,
            )
            .await
        {
            Ok(record) => Ok(StartExecutionOutput {
                execution_arn: record.arn,
                start_date: secs(record.start_ms),
            }),
            // The name is taken (idempotency: same input, still running → the same answer).
            Err(EngineError::ExecutionAlreadyExists(_)) => {
                match self.engine.execution(&arn).await.map_err(engine_error)? {
                    Some(existing) => Self::same_execution(&existing, &start.input),
                    None => Err(ApiError::execution_already_exists(&arn)),
                }
            }
            Err(error) => Err(engine_error(error)),
        }
    }

    async fn start_sync_execution(
        &self,
        input: StartSyncExecutionInput,
    ) -> Result<StartSyncExecutionOutput, ApiError> {
        let start = self
            .prepare_start(&input.state_machine_arn, input.name, input.input)
            .await?;
        let machine = &start.machine;
        if machine.machine_type != MachineType::Express {
            return Err(ApiError::state_machine_type_not_supported(
                NOT_FOR_THIS_TYPE,
            ));
        }
        let arn = self.scope_of(&machine.arn).express_execution_arn(
            &machine.name,
            &start.name,
            &new_id(),
        );
        let record = self
            .engine
            .run_sync(
                machine,
                arn,
                start.name,
                ExecutionInput::Parsed {
                    text: start.input,
                    value: start.input_value,
                },
                start.test_case,
                start.alias_arn,
            )
            .await
            .map_err(engine_error)?;
        let status = match record.status {
            RecordStatus::Succeeded => SyncExecutionStatus::Succeeded,
            RecordStatus::TimedOut => SyncExecutionStatus::TimedOut,
            _ => SyncExecutionStatus::Failed,
        };
        let included = || {
            Some(CloudWatchEventsExecutionDataDetails {
                included: Some(true),
            })
        };
        Ok(StartSyncExecutionOutput {
            execution_arn: record.arn,
            state_machine_arn: Some(machine.arn.clone()),
            name: Some(record.name),
            start_date: secs(record.start_ms),
            stop_date: secs(record.stop_ms.unwrap_or(record.start_ms)),
            status,
            error: record.error,
            cause: record.cause,
            input: Some(record.input),
            input_details: included(),
            output_details: record.output.as_ref().and_then(|_| included()),
            output: record.output,
            ..StartSyncExecutionOutput::default()
        })
    }

    async fn describe_execution(
        &self,
        input: DescribeExecutionInput,
    ) -> Result<DescribeExecutionOutput, ApiError> {
        let record = self.execution(&input.execution_arn).await?;
        let (state_machine_arn, version_arn) = machine_of_execution(&record);
        let express = matches!(
            Arn::parse(&record.arn).map(|a| a.resource),
            Ok(Resource::ExpressExecution { .. })
        );
        let included = || {
            Some(CloudWatchEventsExecutionDataDetails {
                included: Some(true),
            })
        };
        let (redrive_status, redrive_reason) = if express {
            (None, None)
        } else {
            match redrivable(&record, self.now_ms()) {
                Ok(()) => (Some(ExecutionRedriveStatus::Redrivable), None),
                Err(reason) => (Some(ExecutionRedriveStatus::NotRedrivable), Some(reason)),
            }
        };
        Ok(DescribeExecutionOutput {
            execution_arn: record.arn,
            state_machine_arn,
            name: Some(record.name),
            status: execution_status(record.status),
            start_date: secs(record.start_ms),
            stop_date: record.stop_ms.map(secs),
            input: Some(record.input),
            input_details: included(),
            output_details: record.output.as_ref().and_then(|_| included()),
            output: record.output,
            error: record.error,
            cause: record.cause,
            state_machine_version_arn: version_arn,
            state_machine_alias_arn: record.alias_arn,
            redrive_count: (!express).then_some(record.redrive_count as i32),
            redrive_date: record.redrive_ms.map(secs),
            redrive_status,
            redrive_status_reason: redrive_reason,
            ..DescribeExecutionOutput::default()
        })
    }

    async fn list_executions(
        &self,
        input: ListExecutionsInput,
    ) -> Result<ListExecutionsOutput, ApiError> {
        if let Some(map_run) = &input.map_run_arn {
            // Sluice runs a Map Run's child workflows inside its execution (their events stay
            // out of its history, as on AWS) but keeps no execution record of each.
            self.describe_run(sluice_api::sfn::model::DescribeMapRunInput {
                map_run_arn: map_run.clone(),
            })
            .await?;
            return Err(ApiError::unsupported_operation(
                "ListExecutions with mapRunArn (the child workflow executions of a Map Run)",
            ));
        }
        let Some(machine_arn) = input.state_machine_arn else {
            return Err(ApiError::validation(
                "Must provide a StateMachine ARN or MapRun ARN",
            ));
        };
        // A machine lists all its executions, a version those that ran it, an alias those
        // started through it.
        let machine = match Arn::parse_state_machine(&machine_arn)?.resource {
            Resource::StateMachineAlias { .. } => {
                let alias = self
                    .store()
                    .alias(&machine_arn)
                    .await
                    .map_err(store_error)?
                    .ok_or_else(|| ApiError::resource_not_found(&machine_arn))?;
                self.machine(&alias.machine_arn).await?
            }
            _ => self.machine(&machine_arn).await?,
        };
        if machine.machine_type == MachineType::Express {
            return Err(ApiError::state_machine_type_not_supported(
                NOT_FOR_THIS_TYPE,
            ));
        }
        let filter = ExecutionFilter {
            state_machine_arn: Some(machine_arn),
            status: input.status_filter.map(record_status),
            redriven: input
                .redrive_filter
                .map(|f| f == ExecutionRedriveFilter::Redriven),
        };
        let page = self
            .store()
            .executions(
                filter,
                input.next_token.as_deref(),
                page_size(input.max_results),
            )
            .await
            .map_err(store_error)?;
        Ok(ListExecutionsOutput {
            executions: page
                .items
                .into_iter()
                .map(|record| {
                    let (state_machine_arn, version_arn) = machine_of_execution(&record);
                    ExecutionListItem {
                        execution_arn: record.arn,
                        state_machine_arn,
                        name: record.name,
                        status: execution_status(record.status),
                        start_date: secs(record.start_ms),
                        stop_date: record.stop_ms.map(secs),
                        state_machine_version_arn: version_arn,
                        state_machine_alias_arn: record.alias_arn,
                        redrive_count: Some(record.redrive_count as i32),
                        redrive_date: record.redrive_ms.map(secs),
                        ..ExecutionListItem::default()
                    }
                })
                .collect(),
            next_token: page.next,
        })
    }

    async fn get_execution_history(
        &self,
        input: GetExecutionHistoryInput,
    ) -> Result<GetExecutionHistoryOutput, ApiError> {
        Arn::parse_execution(&input.execution_arn)?;
        let page = self
            .engine
            .history(
                &input.execution_arn,
                input.next_token.as_deref(),
                page_size(input.max_results),
                input.reverse_order.unwrap_or(false),
            )
            .await
            .map_err(engine_error)?;
        let include_data = input.include_execution_data.unwrap_or(true);
        Ok(GetExecutionHistoryOutput {
            events: page
                .items
                .iter()
                .map(|event| wire_event(&event.body, include_data))
                .collect::<Result<_, _>>()?,
            next_token: page.next,
        })
    }

    async fn stop_execution(
        &self,
        input: StopExecutionInput,
    ) -> Result<StopExecutionOutput, ApiError> {
        let arn = Arn::parse_execution(&input.execution_arn)?;
        if matches!(arn.resource, Resource::ExpressExecution { .. }) {
            // EXPRESS executions are not stoppable through the API on AWS either.
            self.execution(&input.execution_arn).await?;
            return Err(ApiError::state_machine_type_not_supported(
                NOT_FOR_THIS_TYPE,
            ));
        }
        let record = self
            .engine
            .stop(&input.execution_arn, input.error, input.cause)
            .await
            .map_err(engine_error)?;
        Ok(StopExecutionOutput {
            stop_date: secs(record.stop_ms.unwrap_or_else(|| self.now_ms())),
        })
    }

    async fn redrive_execution(
        &self,
        input: RedriveExecutionInput,
    ) -> Result<RedriveExecutionOutput, ApiError> {
        let arn = Arn::parse_execution(&input.execution_arn)?;
        if matches!(arn.resource, Resource::ExpressExecution { .. }) {
            self.execution(&input.execution_arn).await?;
            return Err(ApiError::execution_not_redrivable(
                "Execution is of type EXPRESS and cannot be redriven",
            ));
        }
        let redrive_ms = self
            .engine
            .redrive(&input.execution_arn, input.client_token.as_deref())
            .await
            .map_err(engine_error)?;
        Ok(RedriveExecutionOutput {
            redrive_date: secs(redrive_ms),
        })
    }

    async fn describe_state_machine_for_execution(
        &self,
        input: DescribeStateMachineForExecutionInput,
    ) -> Result<DescribeStateMachineForExecutionOutput, ApiError> {
        let record = self.execution(&input.execution_arn).await?;
        // The definition the execution runs: its own revision, whatever the machine is now.
        let machine = self
            .engine
            .definition_of(&record)
            .await
            .map_err(engine_error)?
            .ok_or_else(|| ApiError::state_machine_does_not_exist(&record.state_machine_arn))?;
        let extra = Extra::of(&machine);
        let variable_references = variable_references(&machine.definition);
        Ok(DescribeStateMachineForExecutionOutput {
            variable_references,
            state_machine_arn: record.state_machine_arn,
            name: machine.name,
            definition: machine.definition,
            role_arn: machine.role_arn,
            update_date: secs(machine.updated_ms),
            logging_configuration: Some(extra.logging()),
            tracing_configuration: Some(extra.tracing()),
            revision_id: Some(machine.revision_id),
            ..DescribeStateMachineForExecutionOutput::default()
        })
    }

    async fn tag_resource(&self, input: TagResourceInput) -> Result<TagResourceOutput, ApiError> {
        let new = tags::requested(Some(input.tags))?;
        let tagged = self
            .activity_tags(&input.resource_arn, |current| {
                tags::merge(current, new.clone());
            })
            .await?;
        if tagged.is_some() {
            return Ok(TagResourceOutput {});
        }
        let _guard = self.machines.lock().await;
        let mut machine = self.taggable(&input.resource_arn).await?;
        tags::merge(&mut machine.tags, new);
        tags::check_count(&machine.tags, &input.resource_arn)?;
        self.commit_machine(machine, None).await?;
        Ok(TagResourceOutput {})
    }

    async fn untag_resource(
        &self,
        input: UntagResourceInput,
    ) -> Result<UntagResourceOutput, ApiError> {
        let keys = input.tag_keys.clone();
        let untagged = self
            .activity_tags(&input.resource_arn, |tags| {
                tags.retain(|(k, _)| !keys.contains(k));
            })
            .await?;
        if untagged.is_some() {
            return Ok(UntagResourceOutput {});
        }
        let _guard = self.machines.lock().await;
        let mut machine = self.taggable(&input.resource_arn).await?;
        machine.tags.retain(|(k, _)| !input.tag_keys.contains(k));
        self.commit_machine(machine, None).await?;
        Ok(UntagResourceOutput {})
    }

    async fn list_tags_for_resource(
        &self,
        input: ListTagsForResourceInput,
    ) -> Result<ListTagsForResourceOutput, ApiError> {
        let tags = match self.activity_tags(&input.resource_arn, |_| {}).await? {
            Some(tags) => tags,
            None => self.taggable(&input.resource_arn).await?.tags,
        };
        Ok(ListTagsForResourceOutput {
            tags: Some(
                tags.into_iter()
                    .map(|(key, value)| Tag {
                        key: Some(key),
                        value: Some(value),
                    })
                    .collect(),
            ),
        })
    }

    async fn create_activity(
        &self,
        input: sluice_api::sfn::model::CreateActivityInput,
    ) -> Result<sluice_api::sfn::model::CreateActivityOutput, ApiError> {
        self.create_activity_record(input).await
    }

    async fn describe_activity(
        &self,
        input: sluice_api::sfn::model::DescribeActivityInput,
    ) -> Result<sluice_api::sfn::model::DescribeActivityOutput, ApiError> {
        self.describe_activity_record(input).await
    }

    async fn delete_activity(
        &self,
        input: sluice_api::sfn::model::DeleteActivityInput,
    ) -> Result<sluice_api::sfn::model::DeleteActivityOutput, ApiError> {
        self.delete_activity_record(input).await
    }

    async fn get_activity_task(
        &self,
        input: sluice_api::sfn::model::GetActivityTaskInput,
    ) -> Result<sluice_api::sfn::model::GetActivityTaskOutput, ApiError> {
        self.poll_activity_task(input).await
    }

    async fn list_activities(
        &self,
        input: sluice_api::sfn::model::ListActivitiesInput,
    ) -> Result<sluice_api::sfn::model::ListActivitiesOutput, ApiError> {
        self.list_activity_records(input).await
    }

    async fn describe_map_run(
        &self,
        input: sluice_api::sfn::model::DescribeMapRunInput,
    ) -> Result<sluice_api::sfn::model::DescribeMapRunOutput, ApiError> {
        self.describe_run(input).await
    }

    async fn list_map_runs(
        &self,
        input: sluice_api::sfn::model::ListMapRunsInput,
    ) -> Result<sluice_api::sfn::model::ListMapRunsOutput, ApiError> {
        self.list_runs(input).await
    }

    async fn update_map_run(
        &self,
        input: sluice_api::sfn::model::UpdateMapRunInput,
    ) -> Result<sluice_api::sfn::model::UpdateMapRunOutput, ApiError> {
        self.update_run(input).await
    }

    async fn send_task_success(
        &self,
        input: sluice_api::sfn::model::SendTaskSuccessInput,
    ) -> Result<sluice_api::sfn::model::SendTaskSuccessOutput, ApiError> {
        self.task_success(input).await
    }

    async fn send_task_failure(
        &self,
        input: sluice_api::sfn::model::SendTaskFailureInput,
    ) -> Result<sluice_api::sfn::model::SendTaskFailureOutput, ApiError> {
        self.task_failure(input).await
    }

    async fn send_task_heartbeat(
        &self,
        input: sluice_api::sfn::model::SendTaskHeartbeatInput,
    ) -> Result<sluice_api::sfn::model::SendTaskHeartbeatOutput, ApiError> {
        self.task_heartbeat(input).await
    }

    /// Runs one state, pure and synchronous (see [`test_state`]).
    async fn test_state(
        &self,
        input: sluice_api::sfn::model::TestStateInput,
    ) -> Result<sluice_api::sfn::model::TestStateOutput, ApiError> {
        test_state::run(input, &self.scope(), self.now_ms())
    }
}

/// DescribeStateMachine's `variableReferences` (absent when no state reads a variable).
fn variable_references(
    definition: &str,
) -> Option<std::collections::BTreeMap<String, Vec<String>>> {
    let definition: serde_json::Value = serde_json::from_str(definition).ok()?;
    let references = sluice_asl::references::variable_references(&definition);
    (!references.is_empty()).then_some(references)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_events_go_on_the_wire_in_epoch_seconds() {
        let body = r#"{"timestamp":"2024-05-01T12:00:00.250Z","type":"ExecutionStarted","id":1,"previousEventId":0,"executionStartedEventDetails":{"input":"{\"a\":1}","inputDetails":{"truncated":false},"roleArn":"arn:aws:iam::000000000000:role/r"}}"#;
        let event = wire_event(body, true).unwrap();
        assert_eq!(event.timestamp, 1_714_564_800.25);
        assert_eq!(event.id, 1);
        assert_eq!(event.previous_event_id, Some(0));
        let wire = serde_json::to_value(&event).unwrap();
        assert_eq!(wire["type"], "ExecutionStarted");
        assert_eq!(wire["executionStartedEventDetails"]["input"], "{\"a\":1}");
        let lean = serde_json::to_value(wire_event(body, false).unwrap()).unwrap();
        assert!(lean["executionStartedEventDetails"].get("input").is_none());
        assert_eq!(
            lean["executionStartedEventDetails"]["roleArn"],
            "arn:aws:iam::000000000000:role/r"
        );
        assert_eq!(wire_event("nope", true).unwrap_err().status, 500);
    }

    #[test]
    fn definition_errors_use_aws_wording() {
        let error =
            check_definition(r#"{"StartAt":"A","States":{"A":{"Type":"Nope","End":true}}}"#)
                .unwrap_err();
        assert_eq!(error.kind, "InvalidDefinition");
        assert!(
            error
                .message
                .starts_with("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: "),
            "{}",
            error.message
        );
        assert!(error.message.contains(" at /States/A"), "{}", error.message);
        assert!(
            check_definition(r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#)
                .is_ok()
        );
    }

    #[test]
    fn executions_of_versions_name_machine_and_version() {
        let scope = Scope::new("us-east-1", "000000000000");
        let mut record = ExecutionRecord {
            arn: scope.execution_arn("m", "e"),
            state_machine_arn: scope.version_arn("m", 3),
            name: "e".into(),
            status: RecordStatus::Running,
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
        };
        assert_eq!(
            machine_of_execution(&record),
            (
                scope.state_machine_arn("m"),
                Some(scope.version_arn("m", 3))
            )
        );
        record.state_machine_arn = scope.state_machine_arn("m");
        assert_eq!(
            machine_of_execution(&record),
            (scope.state_machine_arn("m"), None)
        );
    }

    #[test]
    fn a_role_must_be_an_iam_role_arn() {
        for good in [
            "arn:aws:iam::000000000000:role/sfn",
            "arn:aws:iam::123456789012:role/service-role/StepFunctions-m-role-1a2b",
            "arn:aws-cn:iam::123456789012:role/r+=,.@_-",
        ] {
            assert!(check_role_arn(good).is_ok(), "{good}");
        }
        for bad in [
            "arn",
            "",
            "arn:aws:iam::000000000000:user/sfn",
            "arn:aws:iam::1:role/r",
            "arn:aws:iam:us-east-1:000000000000:role/r",
            "arn:aws:iam::000000000000:role/",
            "arn:aws:iam::000000000000:role/a b",
            "arn:aws:iam::aws:policy/AWSBatchFullAccess",
            "arn:nope:iam::000000000000:role/r",
            "arn:aws:states:us-east-1:000000000000:role/r",
        ] {
            let error = check_role_arn(bad).unwrap_err();
            assert_eq!(error.kind, "InvalidArn", "{bad}");
            assert_eq!(error.message, format!("Invalid Role Arn: '{bad}'"));
        }
    }

    #[test]
    fn page_sizes_default_to_100() {
        assert_eq!(page_size(None), 100);
        assert_eq!(page_size(Some(0)), 100);
        assert_eq!(page_size(Some(5)), 5);
    }
}
