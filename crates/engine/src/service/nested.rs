//! The Step Functions integration built into the engine: `arn:aws:states:::states:startExecution`
//! (nested workflows), the one optimized integration that needs nothing outside Sluice.
//!
//! - Request Response (`startExecution`): starts the child through the same engine (same store,
//!   clock and dispatcher) and answers with StartExecution's result as AWS's integrations show
//!   it: `ExecutionArn`, `StartDate` (epoch milliseconds), `SdkHttpMetadata`,
//!   `SdkResponseMetadata`.
//! - Run a Job (`startExecution.sync`, `.sync:2`): the same start (recorded as `TaskSubmitted`),
//!   then waits for the child to end and answers with its DescribeExecution, PascalCased:
//!   `Input`/`Output` as JSON text (`.sync`) or as JSON (`.sync:2`). A child that does not
//!   succeed fails the task with `States.TaskFailed`, that description being the cause.
//! - StartExecution's own errors fail the task as `StepFunctions.<Code>Exception` with AWS's
//!   message and request details as the cause.
//!
//! Tasks are at-least-once: a STANDARD parent re-performs its pending task after a restart.
//! That finds the same child instead of starting a second one: a `.sync` task that recorded
//! `TaskSubmitted` waits for the child named there; otherwise the child's name, when the task
//! gives none, is derived from (parent execution, `TaskScheduled` event id), and starting a
//! STANDARD execution under an existing name adopts it. Waiting costs nothing while the child
//! runs: the engine signals every execution's end ([`Router::execution_ended`]) and the waiter
//! reads the store when signalled.
//!
//! The execution's mock configuration comes first: when its test case has a response for the
//! state, the mock answers (Step Functions Local calls the real service only otherwise).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::{Map, Value, json};
use sluice_asl::Failure;
use sluice_asl::names;
use sluice_store::ExecutionStatus;
use sluice_store::{ExecutionRecord, MachineArn, MachineType, StateMachineRecord, Store};
use sluice_types::Arn;
use tokio::sync::Notify;

use super::{Engine, EngineError, Inner, lock, redrivable};
use crate::{Dispatch, Task};

/// Separates a mock configuration's test case from the machine ARN (Step Functions Local's
/// `stateMachineArn#TestCase`), in `StateMachineArn` too.
const TEST_CASE_SEPARATOR: char = '#';

/// The engine's dispatcher: the built-in integration, or the dispatcher the engine was given.
pub(super) struct Router<S, D> {
    engine: Weak<Inner<S, D>>,
    dispatcher: D,
    ends: Ends,
}

impl<S, D> Router<S, D> {
    pub(super) fn new(engine: Weak<Inner<S, D>>, dispatcher: D) -> Self {
        Self {
            engine,
            dispatcher,
            ends: Ends::default(),
        }
    }

    /// An execution ended (or stopped running here): whoever waits for it looks again.
    pub(super) fn execution_ended(&self, arn: &str) {
        self.ends.ended(arn);
    }
}

impl<S: Store, D: Dispatch> Dispatch for Router<S, D> {
    async fn dispatch(&self, task: Task) -> Result<Value, Failure> {
        if let Some(pattern) = Pattern::of(&task.call.resource)
            && !self.dispatcher.answers(&task)
        {
            let Some(inner) = self.engine.upgrade() else {
                return Err(Failure::runtime("the engine is shutting down"));
            };
            let engine = Engine { inner };
            return start_execution(&engine, &self.ends, &task, pattern).await;
        }
        self.dispatcher.dispatch(task).await
    }

    fn answers(&self, task: &Task) -> bool {
        Pattern::of(&task.call.resource).is_some() || self.dispatcher.answers(task)
    }

    fn waits_for_callback(&self, task: &Task) -> bool {
        self.dispatcher.answers(task) && self.dispatcher.waits_for_callback(task)
    }
}

/// How the task calls StartExecution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pattern {
    /// `startExecution`: answer once the child started.
    RequestResponse,
    /// `startExecution.sync`: wait for the child; `Input`/`Output` as JSON text.
    Sync,
    /// `startExecution.sync:2`: wait for the child; `Input`/`Output` as JSON.
    Sync2,
}

impl Pattern {
    /// The pattern of a Task's `Resource`
    /// (`arn:<partition>:states:<region>:<account>:states:startExecution[.sync[:2]]`, region and
    /// account usually empty), if it is this integration. Allocates nothing: every task asks.
    fn of(resource: &str) -> Option<Pattern> {
        let arn = Arn::parse(resource).ok()?;
        if arn.service != "states" {
            return None;
        }
        match arn.resource {
            "states:startExecution" => Some(Pattern::RequestResponse),
            "states:startExecution.sync" => Some(Pattern::Sync),
            "states:startExecution.sync:2" => Some(Pattern::Sync2),
            _ => None,
        }
    }
}

/// Who waits for which execution to end.
#[derive(Default)]
struct Ends(Mutex<HashMap<String, Arc<Notify>>>);

impl Ends {
    fn listen(&self, arn: &str) -> Arc<Notify> {
        Arc::clone(lock(&self.0).entry(arn.to_owned()).or_default())
    }

    fn ended(&self, arn: &str) {
        if let Some(notify) = lock(&self.0).remove(arn) {
            notify.notify_waiters();
        }
    }

    /// Drops `arn`'s entry if no one else listens (it ended before anyone signalled it).
    fn forget(&self, arn: &str, notify: &Arc<Notify>) {
        let mut waiting = lock(&self.0);
        // The map's reference and `notify`.
        if waiting
            .get(arn)
            .is_some_and(|n| Arc::ptr_eq(n, notify) && Arc::strong_count(n) == 2)
        {
            waiting.remove(arn);
        }
    }
}

/// StartExecution's parameters, as the task gives them.
struct Request {
    /// The machine, version or alias ARN (without `#TestCase`).
    state_machine_arn: String,
    test_case: Option<String>,
    /// The child's input: JSON text.
    input: String,
    name: Option<String>,
}

impl Request {
    fn of(parameters: &Value) -> Result<Request, Failure> {
        let field = |name: &str| parameters.get(name).filter(|v| !v.is_null());
        let arn = match field("StateMachineArn") {
            Some(Value::String(arn)) => arn,
            Some(other) => {
                return Err(validation(format!(
                    "Value '{other}' at 'stateMachineArn' failed to satisfy constraint: Member \
                     must be a string"
                )));
            }
            None => {
                return Err(validation(
                    "Value null at 'stateMachineArn' failed to satisfy constraint: Member must \
                     not be null"
                        .into(),
                ));
            }
        };
        let (arn, test_case) = match arn.split_once(TEST_CASE_SEPARATOR) {
            Some((arn, case)) => (arn, Some(case.to_owned())),
            None => (arn.as_str(), None),
        };
        // AWS: JSON text as it is; any other JSON serialized; none at all is `{}`.
        let input = match field("Input") {
            None => "{}".to_owned(),
            Some(Value::String(text)) => {
                if let Err(error) = sluice_asl::json::check(text) {
                    return Err(sdk_error(
                        "InvalidExecutionInput",
                        format!("Invalid State Machine Execution Input: '{error}'"),
                    ));
                }
                text.clone()
            }
            Some(other) => other.to_string(),
        };
        let name = match field("Name") {
            None => None,
            Some(Value::String(name)) if is_valid_name(name) => Some(name.clone()),
            Some(Value::String(name)) => {
                return Err(sdk_error("InvalidName", format!("Invalid Name: '{name}'")));
            }
            Some(other) => {
                return Err(sdk_error("InvalidName", format!("Invalid Name: '{other}'")));
            }
        };
        Ok(Request {
            state_machine_arn: arn.to_owned(),
            test_case,
            input,
            name,
        })
    }
}

async fn start_execution<S: Store, D: Dispatch>(
    engine: &Engine<S, D>,
    ends: &Ends,
    task: &Task,
    pattern: Pattern,
) -> Result<Value, Failure> {
    let waits = pattern != Pattern::RequestResponse;
    // Performed again after a restart: the child this task started before, if it still exists
    // (an EXPRESS child does not outlive the engine: then another one starts).
    if waits
        && let Some(arn) = task
            .submitted
            .as_ref()
            .and_then(|s| s.get("ExecutionArn"))
            .and_then(Value::as_str)
        && engine.execution(arn).await.map_err(internal)?.is_some()
    {
        let ended = wait_for_end(engine, ends, arn).await?;
        return described(engine, &ended, pattern);
    }
    let request = Request::of(&task.call.input)?;
    let (machine, alias_arn) = resolve(engine, &request.state_machine_arn).await?;
    let derived = request.name.is_none();
    let name = request
        .name
        .clone()
        .unwrap_or_else(|| derived_name(&task.execution, task.scheduled_event_id));
    let record = match machine.machine_type {
        MachineType::Express => {
            let arn = execution_arn(&machine, &name, Some(&uuid::Uuid::new_v4().to_string()));
            engine
                .start(
                    &machine,
                    arn,
                    name,
                    request.input.into(),
                    request.test_case,
                    alias_arn,
                )
                .await
                .map_err(start_error)?
        }
        MachineType::Standard => {
            let arn = execution_arn(&machine, &name, None);
            match engine.execution(&arn).await.map_err(internal)? {
                Some(existing) => adopt(existing, derived, &request.input)?,
                None => match engine
                    .start(
                        &machine,
                        arn.clone(),
                        name,
                        request.input.clone().into(),
                        request.test_case,
                        alias_arn,
                    )
                    .await
                {
                    Ok(record) => record,
                    // Lost a race with a start of the same name: as if it had come first.
                    Err(EngineError::ExecutionAlreadyExists(_)) => {
                        match engine.execution(&arn).await.map_err(internal)? {
                            Some(existing) => adopt(existing, derived, &request.input)?,
                            None => return Err(already_exists(&arn)),
                        }
                    }
                    Err(error) => return Err(start_error(error)),
                },
            }
        }
    };
    let started = start_output(&record.arn, record.start_ms, engine.clock().now_ms());
    if !waits {
        return Ok(started);
    }
    task.submitted(started);
    let ended = wait_for_end(engine, ends, &record.arn).await?;
    described(engine, &ended, pattern)
}

/// The machine (or version) `arn` names, and the alias it was chosen through.
async fn resolve<S: Store, D: Dispatch>(
    engine: &Engine<S, D>,
    arn: &str,
) -> Result<(StateMachineRecord, Option<String>), Failure> {
    if !is_state_machine_arn(arn) {
        return Err(sdk_error("InvalidArn", format!("Invalid Arn: '{arn}'")));
    }
    let store = engine.store();
    let does_not_exist = || {
        sdk_error(
            "StateMachineDoesNotExist",
            format!("State Machine Does Not Exist: '{arn}'"),
        )
    };
    match MachineArn::parse(arn) {
        MachineArn::Alias { .. } => {
            let alias = store
                .alias(arn)
                .await
                .map_err(|e| internal(e.into()))?
                .ok_or_else(does_not_exist)?;
            let draw = fastrand::u32(..100);
            let version = alias.pick(draw).ok_or_else(does_not_exist)?;
            let machine = store
                .state_machine(version)
                .await
                .map_err(|e| internal(e.into()))?
                .ok_or_else(does_not_exist)?;
            Ok((machine, Some(arn.to_owned())))
        }
        _ => {
            let machine = store
                .state_machine(arn)
                .await
                .map_err(|e| internal(e.into()))?
                .ok_or_else(does_not_exist)?;
            Ok((machine, None))
        }
    }
}

/// An existing STANDARD execution under the child's name: this task's own child when the name
/// was derived for it; else AWS's idempotency (same input and still RUNNING: that execution),
/// or `ExecutionAlreadyExists`.
fn adopt(
    existing: ExecutionRecord,
    derived: bool,
    input: &str,
) -> Result<ExecutionRecord, Failure> {
    if derived || (existing.status == ExecutionStatus::Running && existing.input == input) {
        Ok(existing)
    } else {
        Err(already_exists(&existing.arn))
    }
}

/// Waits until execution `arn` has ended; returns its record. Costs nothing meanwhile: the
/// engine signals each end, and the store is read only then.
async fn wait_for_end<S: Store, D: Dispatch>(
    engine: &Engine<S, D>,
    ends: &Ends,
    arn: &str,
) -> Result<ExecutionRecord, Failure> {
    loop {
        let notify = ends.listen(arn);
        let signalled = notify.notified();
        tokio::pin!(signalled);
        // Listening before reading: an end committed after this read is signalled after it.
        signalled.as_mut().enable();
        match engine.execution(arn).await {
            Ok(Some(record)) if record.status != ExecutionStatus::Running => {
                ends.forget(arn, &notify);
                return Ok(record);
            }
            Ok(Some(_)) => signalled.await,
            Ok(None) => {
                ends.forget(arn, &notify);
                return Err(Failure::new(
                    names::TASK_FAILED,
                    format!("Execution Does Not Exist: '{arn}'"),
                ));
            }
            Err(error) => {
                tracing::warn!(execution = arn, %error, "cannot read a nested execution; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// A `.sync` task's answer about an ended child: its description, or, unless it succeeded,
/// `States.TaskFailed` with the description as the cause.
fn described<S: Store, D: Dispatch>(
    engine: &Engine<S, D>,
    record: &ExecutionRecord,
    pattern: Pattern,
) -> Result<Value, Failure> {
    let description = describe(record, pattern == Pattern::Sync2, engine.clock().now_ms());
    if record.status == ExecutionStatus::Succeeded {
        Ok(description)
    } else {
        Err(Failure::new(names::TASK_FAILED, description.to_string()))
    }
}

/// DescribeExecution of `record` as `.sync` integrations answer it: PascalCase members in
/// alphabetical order, dates in epoch milliseconds; `json` parses `Input` and `Output`.
fn describe(record: &ExecutionRecord, json: bool, now_ms: i64) -> Value {
    let data = |text: &str| match json {
        true => sluice_asl::json::parse(text).unwrap_or_else(|_| Value::String(text.to_owned())),
        false => Value::String(text.to_owned()),
    };
    let included = || json!({ "Included": true });
    let express = Arn::parse(&record.arn)
        .ok()
        .and_then(|arn| arn.execution())
        .is_some_and(|execution| execution.express_id.is_some());
    let mut d = Map::new();
    if let Some(cause) = &record.cause {
        d.insert("Cause".into(), cause.as_str().into());
    }
    if let Some(error) = &record.error {
        d.insert("Error".into(), error.as_str().into());
    }
    d.insert("ExecutionArn".into(), record.arn.as_str().into());
    d.insert("Input".into(), data(&record.input));
    d.insert("InputDetails".into(), included());
    d.insert("Name".into(), record.name.as_str().into());
    if let Some(output) = &record.output {
        d.insert("Output".into(), data(output));
        d.insert("OutputDetails".into(), included());
    }
    if !express {
        d.insert("RedriveCount".into(), record.redrive_count.into());
        if let Some(at) = record.redrive_ms {
            d.insert("RedriveDate".into(), at.into());
        }
        match redrivable(record, now_ms) {
            Ok(()) => {
                d.insert("RedriveStatus".into(), "REDRIVABLE".into());
            }
            Err(reason) => {
                d.insert("RedriveStatus".into(), "NOT_REDRIVABLE".into());
                d.insert("RedriveStatusReason".into(), reason.into());
            }
        }
    }
    d.insert("StartDate".into(), record.start_ms.into());
    if let Some(alias) = &record.alias_arn {
        d.insert("StateMachineAliasArn".into(), alias.as_str().into());
    }
    d.insert("StateMachineArn".into(), record.machine_arn().into());
    if record.machine_arn() != record.state_machine_arn {
        d.insert(
            "StateMachineVersionArn".into(),
            record.state_machine_arn.as_str().into(),
        );
    }
    d.insert("Status".into(), record.status.as_str().into());
    if let Some(at) = record.stop_ms {
        d.insert("StopDate".into(), at.into());
    }
    Value::Object(d)
}

/// StartExecution's result as service integrations answer it: the SDK's response object with its
/// HTTP metadata.
fn start_output(execution_arn: &str, start_ms: i64, now_ms: i64) -> Value {
    let request_id = uuid::Uuid::new_v4().to_string();
    // The wire response: `{"executionArn":"...","startDate":1.7E9}`.
    let body = json!({ "executionArn": execution_arn, "startDate": start_ms as f64 / 1000.0 });
    let length = body.to_string().len().to_string();
    let date = chrono::DateTime::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
    json!({
        "ExecutionArn": execution_arn,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "x-amzn-RequestId": [request_id],
                "connection": ["keep-alive"],
                "Content-Length": [length],
                "Date": [date],
                "Content-Type": [CONTENT_TYPE],
            },
            "HttpHeaders": {
                "connection": "keep-alive",
                "Content-Length": length,
                "Content-Type": CONTENT_TYPE,
                "Date": date,
                "x-amzn-RequestId": request_id,
            },
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": { "RequestId": request_id },
        "StartDate": start_ms,
    })
}

/// The ARN of execution `name` of `machine`: `…:execution:<machine>:<name>`, or for EXPRESS
/// `…:express:<machine>:<name>:<id>`.
fn execution_arn(machine: &StateMachineRecord, name: &str, express_id: Option<&str>) -> String {
    let unqualified = machine.machine_arn();
    let prefix = unqualified
        .rsplit_once(":stateMachine:")
        .map_or(unqualified, |(prefix, _)| prefix);
    match express_id {
        None => format!("{prefix}:execution:{}:{name}", machine.name),
        Some(id) => format!("{prefix}:express:{}:{name}:{id}", machine.name),
    }
}

/// `arn:<partition>:states:<region>:<account>:stateMachine:<name>[:<version or alias>]`.
fn is_state_machine_arn(arn: &str) -> bool {
    Arn::parse(arn).is_ok_and(|arn| arn.state_machine().is_some())
}

/// AWS's execution names: 1 to 80 characters, no white space, brackets, wildcards, special or
/// control characters.
fn is_valid_name(name: &str) -> bool {
    let valid = |c: char| {
        !(c.is_whitespace()
            || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c)
            || matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
            || matches!(c, '\u{fffe}' | '\u{ffff}' | '\u{10ffff}'))
    };
    let count = name.chars().count();
    (1..=80).contains(&count) && name.chars().all(valid)
}

/// The child's name when the task gives none: a UUID, as AWS generates, but derived from the
/// parent execution and the task's `TaskScheduled` event, so that the task performed again
/// after a restart names (and finds) the same child.
fn derived_name(parent: &str, scheduled_event_id: u64) -> String {
    let key = format!("{parent}\u{0}{scheduled_event_id}");
    let hash = |seed: u64| {
        key.bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
    };
    let (hi, lo) = (
        mix(hash(0xcbf2_9ce4_8422_2325)),
        mix(hash(0x8422_2325_cbf2_9ce4)),
    );
    uuid((u128::from(hi) << 64) | u128::from(lo))
}

/// SplitMix64's finalizer.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// 128 bits as a version 4 UUID.
fn uuid(bits: u128) -> String {
    uuid::Builder::from_random_bytes(bits.to_be_bytes())
        .into_uuid()
        .to_string()
}

/// A StartExecution error as the integration raises it: `StepFunctions.<Code>Exception`, with
/// AWS's message and the SDK's request details as the cause.
fn sdk_error(code: &str, message: String) -> Failure {
    Failure::new(
        format!("StepFunctions.{code}Exception"),
        format!(
            "{message} (Service: AWSStepFunctions; Status Code: 400; Error Code: {code}; \
             Request ID: {}; Proxy: null)",
            uuid::Uuid::new_v4()
        ),
    )
}

fn validation(message: String) -> Failure {
    Failure::new(
        "StepFunctions.ValidationException",
        format!(
            "1 validation error detected: {message} (Service: AWSStepFunctions; Status Code: \
             400; Error Code: ValidationException; Request ID: {}; Proxy: null)",
            uuid::Uuid::new_v4()
        ),
    )
}

fn already_exists(arn: &str) -> Failure {
    sdk_error(
        "ExecutionAlreadyExists",
        format!("Execution Already Exists: '{arn}'"),
    )
}

fn start_error(error: EngineError) -> Failure {
    match error {
        EngineError::ExecutionAlreadyExists(arn) => already_exists(&arn),
        EngineError::InvalidInput(detail) => sdk_error(
            "InvalidExecutionInput",
            format!("Invalid State Machine Execution Input: '{detail}'"),
        ),
        EngineError::InvalidDefinition(detail) => sdk_error(
            "InvalidDefinition",
            format!("Invalid State Machine Definition: '{detail}'"),
        ),
        other => internal(other),
    }
}

/// The engine could not do its part (the store failed): a service error of Step Functions.
fn internal(error: EngineError) -> Failure {
    Failure::new(
        "StepFunctions.AWSStepFunctionsException",
        format!(
            "{error} (Service: AWSStepFunctions; Status Code: 500; Error Code: InternalFailure; \
             Request ID: {}; Proxy: null)",
            uuid::Uuid::new_v4()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_name_the_integration_pattern() {
        assert_eq!(
            Pattern::of("arn:aws:states:::states:startExecution"),
            Some(Pattern::RequestResponse)
        );
        assert_eq!(
            Pattern::of("arn:aws:states:::states:startExecution.sync"),
            Some(Pattern::Sync)
        );
        assert_eq!(
            Pattern::of("arn:aws:states:::states:startExecution.sync:2"),
            Some(Pattern::Sync2)
        );
        assert_eq!(
            Pattern::of("arn:aws:states:::states:startExecution.waitForTaskToken"),
            None
        );
        assert_eq!(Pattern::of("arn:aws:states:::lambda:invoke"), None);
        assert_eq!(
            Pattern::of("arn:aws-cn:states:cn-north-1:123456789012:states:startExecution"),
            Some(Pattern::RequestResponse)
        );
        assert_eq!(
            Pattern::of("arn:aws:lambda:us-east-1:123456789012:function:states:startExecution"),
            None
        );
    }

    #[test]
    fn state_machine_arns_name_a_machine_version_or_alias() {
        for arn in [
            "arn:aws:states:us-east-1:123456789012:stateMachine:child",
            "arn:aws:states:us-east-1:123456789012:stateMachine:child:3",
            "arn:aws:states:us-east-1:123456789012:stateMachine:child:live",
        ] {
            assert!(is_state_machine_arn(arn), "{arn}");
        }
        for arn in [
            "arn:aws:states:us-east-1:123456789012:stateMachine:",
            "arn:aws:states:us-east-1:123456789012:stateMachine:child:",
            "arn:aws:states:us-east-1:123456789012:stateMachine:child:3:x",
            "arn:aws:states:us-east-1:123456789012:execution:child:e",
            "arn:aws:lambda:us-east-1:123456789012:stateMachine:child",
            "child",
        ] {
            assert!(!is_state_machine_arn(arn), "{arn}");
        }
    }

    #[test]
    fn derived_names_are_stable_uuids_per_parent_and_task() {
        let a = derived_name("arn:aws:states:r:a:execution:m:p", 5);
        assert_eq!(a, derived_name("arn:aws:states:r:a:execution:m:p", 5));
        assert_ne!(a, derived_name("arn:aws:states:r:a:execution:m:p", 9));
        assert_ne!(a, derived_name("arn:aws:states:r:a:execution:m:q", 5));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4", "version 4: {a}");
        assert!(is_valid_name(&a));
    }

    #[test]
    fn input_is_json_text_as_given_or_serialized() {
        let arn = "arn:aws:states:us-east-1:000000000000:stateMachine:child";
        let input =
            |v: Value| Request::of(&json!({"StateMachineArn": arn, "Input": v})).map(|r| r.input);
        assert_eq!(input(Value::Null).unwrap(), "{}");
        assert_eq!(input(json!({"a": [1, 2]})).unwrap(), r#"{"a":[1,2]}"#);
        assert_eq!(input(json!("\"text\"")).unwrap(), r#""text""#);
        let bad = input(json!("not json")).unwrap_err();
        assert_eq!(bad.error, "StepFunctions.InvalidExecutionInputException");
        let case = Request::of(&json!({"StateMachineArn": format!("{arn}#Happy")})).unwrap();
        assert_eq!(case.state_machine_arn, arn);
        assert_eq!(case.test_case.as_deref(), Some("Happy"));
        let missing = Request::of(&json!({})).err().unwrap();
        assert_eq!(missing.error, "StepFunctions.ValidationException");
        let name = Request::of(&json!({"StateMachineArn": arn, "Name": "a b"}))
            .err()
            .unwrap();
        assert_eq!(name.error, "StepFunctions.InvalidNameException");
    }

    #[test]
    fn execution_arns_follow_the_machine() {
        let mut m = StateMachineRecord {
            arn: "arn:aws:states:eu-west-1:123456789012:stateMachine:child:3".into(),
            name: "child".into(),
            machine_type: MachineType::Standard,
            definition: String::new(),
            role_arn: String::new(),
            description: None,
            created_ms: 0,
            updated_ms: 0,
            revision_id: String::new(),
            tags: Vec::new(),
            extra: None,
            version: Some(3),
        };
        assert_eq!(
            execution_arn(&m, "x", None),
            "arn:aws:states:eu-west-1:123456789012:execution:child:x"
        );
        m.version = None;
        m.arn = "arn:aws:states:eu-west-1:123456789012:stateMachine:child".into();
        assert_eq!(
            execution_arn(&m, "x", Some("id")),
            "arn:aws:states:eu-west-1:123456789012:express:child:x:id"
        );
    }
}
