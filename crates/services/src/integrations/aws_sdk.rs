//! [`AwsSdk`]: the generic `arn:aws:states:::aws-sdk:<service>:<action>` Task integration,
//! routed in process to Sluice's own handler of that service, as AWS documents SDK
//! integrations:
//! - the action is the API operation in camelCase (`startExecution` → `StartExecution`);
//! - parameters and results are in PascalCase whatever the service's own casing (Step
//!   Functions' members are camelCase on the wire: `StateMachineArn` in, `ExecutionArn` out);
//! - an error is `<Service>.<Error>Exception` in PascalCase (`Sfn.StateMachineDoesNotExist`
//!   becomes `Sfn.StateMachineDoesNotExistException`), its cause the message with the SDK's
//!   `(Service: …, Status Code: …, Request ID: …)` suffix.
//!
//! Services register a [`JsonService`] under their SDK name (`sfn`); the handler behind it may
//! be set after the engine is built ([`AwsSdk::set`]), since the Step Functions backend itself
//! runs on the engine whose tasks call it.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};
use sluice_api::ApiError;
use sluice_asl::Failure;
use sluice_engine::{Integration, Task, TaskFuture};
use sluice_types::Arn;

/// A boxed service call: the response body, or the service's error.
pub type CallFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, ApiError>> + Send + 'a>>;

/// A service that answers operations by name with JSON bodies in its own member casing.
pub trait JsonService: Send + Sync + 'static {
    fn call(&self, operation: String, body: Vec<u8>) -> CallFuture<'_>;
}

/// The Step Functions API as a [`JsonService`].
pub struct StepFunctionsService<B>(pub Arc<B>);

impl<B: sluice_api::sfn::StepFunctions> JsonService for StepFunctionsService<B> {
    fn call(&self, operation: String, body: Vec<u8>) -> CallFuture<'_> {
        Box::pin(async move { sluice_api::sfn::handle(&*self.0, &operation, &body).await })
    }
}

/// The Lambda API as a [`JsonService`].
pub struct LambdaService<B>(pub Arc<B>);

impl<B: sluice_api::lambda::Lambda> JsonService for LambdaService<B> {
    fn call(&self, operation: String, body: Vec<u8>) -> CallFuture<'_> {
        Box::pin(async move { sluice_api::lambda::handle(&*self.0, &operation, &body).await })
    }
}

/// The SQS API as a [`JsonService`].
pub struct SqsService<B>(pub Arc<B>);

impl<B: sluice_api::sqs::Sqs> JsonService for SqsService<B> {
    fn call(&self, operation: String, body: Vec<u8>) -> CallFuture<'_> {
        Box::pin(async move { sluice_api::sqs_routes::handle(&*self.0, &operation, &body).await })
    }
}

/// The SNS API as a [`JsonService`].
pub struct SnsService<B>(pub Arc<B>);

impl<B: sluice_api::sns::Sns> JsonService for SnsService<B> {
    fn call(&self, operation: String, body: Vec<u8>) -> CallFuture<'_> {
        Box::pin(async move { sluice_api::sns_routes::handle(&*self.0, &operation, &body).await })
    }
}

/// The Kinesis API as a [`JsonService`].
pub struct KinesisService<B>(pub Arc<B>);

impl<B: sluice_api::kinesis::Kinesis> JsonService for KinesisService<B> {
    fn call(&self, operation: String, body: Vec<u8>) -> CallFuture<'_> {
        Box::pin(
            async move { sluice_api::kinesis_routes::handle(&*self.0, &operation, &body).await },
        )
    }
}

/// The EventBridge API as a [`JsonService`].
pub struct EventsService<B>(pub Arc<B>);

impl<B: sluice_api::events::EventBridge> JsonService for EventsService<B> {
    fn call(&self, operation: String, body: Vec<u8>) -> CallFuture<'_> {
        Box::pin(
            async move { sluice_api::events_routes::handle(&*self.0, &operation, &body).await },
        )
    }
}

/// The EventBridge Scheduler API as a [`JsonService`].
pub struct SchedulerService<B>(pub Arc<B>);

impl<B: sluice_api::scheduler::Scheduler> JsonService for SchedulerService<B> {
    fn call(&self, operation: String, body: Vec<u8>) -> CallFuture<'_> {
        Box::pin(
            async move { sluice_api::scheduler_routes::handle(&*self.0, &operation, &body).await },
        )
    }
}

/// How a service's members are cased on its own wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Casing {
    /// `stateMachineArn` (Step Functions): converted from and to PascalCase.
    Camel,
    /// `FunctionName` (Lambda, SQS, ...): as it is.
    Pascal,
}

struct Registered {
    display: &'static str,
    casing: Casing,
    handler: Arc<OnceLock<Arc<dyn JsonService>>>,
}

/// The registry of SDK services. See the module's documentation.
#[derive(Default)]
pub struct AwsSdk {
    services: HashMap<&'static str, Registered>,
}

/// Where a service's handler is set once it exists.
#[derive(Clone, Default)]
pub struct Slot(Arc<OnceLock<Arc<dyn JsonService>>>);

impl Slot {
    /// An empty slot, for a service whose callers exist before it does (pipes calling the
    /// Step Functions API).
    pub fn new() -> Self {
        Self(Arc::new(OnceLock::new()))
    }

    /// The handler, once set.
    pub fn get(&self) -> Option<Arc<dyn JsonService>> {
        self.0.get().cloned()
    }

    /// Sets the handler; a second call changes nothing.
    pub fn set(&self, handler: Arc<dyn JsonService>) {
        let _ = self.0.set(handler);
    }
}

impl AwsSdk {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the service the resource names `sdk_name` (`sfn`), whose errors are prefixed
    /// with `display` (`Sfn`); its handler is set through the returned [`Slot`].
    pub fn register(
        &mut self,
        sdk_name: &'static str,
        display: &'static str,
        casing: Casing,
    ) -> Slot {
        let handler = Arc::new(OnceLock::new());
        self.services.insert(
            sdk_name,
            Registered {
                display,
                casing,
                handler: Arc::clone(&handler),
            },
        );
        Slot(handler)
    }

    async fn run_task(&self, task: Task) -> Result<Value, Failure> {
        let resource = &task.call.resource;
        let (service, action) = parse(resource)
            .ok_or_else(|| Failure::runtime(format!("'{resource}' is not an aws-sdk resource")))?;
        // As the state machine's own region's endpoint would answer.
        let region = task.region().to_owned();
        self.call(service, action, &task.call.input, region)
            .await
            .map_err(|error| match error {
                SdkError::Unavailable(message) => Failure::runtime(message),
                SdkError::Service { display, error } => sdk_failure(display, &error),
            })
    }

    /// Calls `action` (camelCase, `sendMessage`) of the service registered as `service`
    /// (`sqs`) with PascalCase `input`, as if signed for `region`: its PascalCase result.
    /// What Task states' `aws-sdk:` resources and the Scheduler's universal targets run.
    pub async fn call(
        &self,
        service: &str,
        action: &str,
        input: &Value,
        region: String,
    ) -> Result<Value, SdkError> {
        let registered = self.services.get(service).ok_or_else(|| {
            SdkError::Unavailable(format!(
                "The AWS SDK integration for '{service}' is not available in Sluice"
            ))
        })?;
        let handler = registered.handler.get().ok_or_else(|| {
            SdkError::Unavailable(format!("The '{service}' service is not ready"))
        })?;
        let operation = pascal(action);
        let input = match registered.casing {
            Casing::Camel => recase(input, camel),
            Casing::Pascal => input.clone(),
        };
        let body = serde_json::to_vec(&input).map_err(|e| SdkError::Unavailable(e.to_string()))?;
        let call = handler.call(operation, body);
        match sluice_api::gateway::signed_for(region, call).await {
            Ok(body) => {
                let output: Value = if body.is_empty() {
                    Value::Object(Map::new())
                } else {
                    serde_json::from_slice(&body)
                        .map_err(|e| SdkError::Unavailable(format!("unreadable response: {e}")))?
                };
                Ok(match registered.casing {
                    Casing::Camel => recase(&output, pascal),
                    Casing::Pascal => output,
                })
            }
            Err(error) => Err(SdkError::Service {
                display: registered.display,
                error,
            }),
        }
    }
}

/// Why an SDK call did not answer.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    /// No such service in Sluice, or not ready yet.
    #[error("{0}")]
    Unavailable(String),
    /// The service answered with an error (`display` names the service as SDK errors do).
    #[error("{display}.{}: {}", error.kind, error.message)]
    Service {
        display: &'static str,
        error: ApiError,
    },
}

impl Integration for AwsSdk {
    fn run(&self, task: Task) -> TaskFuture<'_> {
        Box::pin(self.run_task(task))
    }
}

/// `arn:<partition>:states:::aws-sdk:<service>:<action>[.<pattern>]` → `(service, action)`.
fn parse(resource: &str) -> Option<(&str, &str)> {
    let arn = Arn::parse(resource).ok()?;
    if arn.service != "states" || !arn.region.is_empty() || !arn.account.is_empty() {
        return None;
    }
    let (service, action) = arn.resource.strip_prefix("aws-sdk:")?.split_once(':')?;
    let action = action.split('.').next().unwrap_or(action);
    (!service.is_empty() && !action.is_empty()).then_some((service, action))
}

/// An SDK error as a Task failure: `<Service>.<Name>Exception`, and the SDK's cause.
pub(crate) fn sdk_failure(service: &str, error: &ApiError) -> Failure {
    let name = error.kind.rsplit('#').next().unwrap_or(&error.kind);
    let name = if name.ends_with("Exception") {
        name.to_string()
    } else {
        format!("{name}Exception")
    };
    Failure::new(
        format!("{service}.{}", pascal(&name)),
        format!(
            "{} (Service: {service}, Status Code: {}, Request ID: {})",
            error.message,
            error.status,
            sluice_api::request_id::uuid_v4()
        ),
    )
}

fn pascal(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `value` with every object key renamed by `case`; iterative, so any depth is safe.
fn recase(value: &Value, case: fn(&str) -> String) -> Value {
    // Each frame: the source value and where its copy goes once built.
    enum Frame<'a> {
        Enter(&'a Value),
        Object(Vec<String>),
        Array(usize),
    }
    let mut stack = vec![Frame::Enter(value)];
    let mut built: Vec<Value> = Vec::new();
    while let Some(frame) = stack.pop() {
        match frame {
            Frame::Enter(Value::Object(map)) => {
                stack.push(Frame::Object(map.keys().map(|k| case(k)).collect()));
                for child in map.values().rev() {
                    stack.push(Frame::Enter(child));
                }
            }
            Frame::Enter(Value::Array(items)) => {
                stack.push(Frame::Array(items.len()));
                for child in items.iter().rev() {
                    stack.push(Frame::Enter(child));
                }
            }
            Frame::Enter(leaf) => built.push(leaf.clone()),
            Frame::Object(keys) => {
                let values = built.split_off(built.len() - keys.len());
                built.push(Value::Object(keys.into_iter().zip(values).collect()));
            }
            Frame::Array(len) => {
                let values = built.split_off(built.len() - len);
                built.push(Value::Array(values));
            }
        }
    }
    built.pop().unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn resources_name_service_and_action() {
        assert_eq!(
            parse("arn:aws:states:::aws-sdk:sfn:startExecution"),
            Some(("sfn", "startExecution"))
        );
        assert_eq!(
            parse("arn:aws-cn:states:::aws-sdk:sfn:startExecution.waitForTaskToken"),
            Some(("sfn", "startExecution"))
        );
        assert_eq!(parse("arn:aws:states:::aws-sdk:sfn"), None);
        assert_eq!(parse("arn:aws:states:::lambda:invoke"), None);
    }

    #[test]
    fn members_are_recased_at_every_depth_and_values_are_kept() {
        let input = json!({"StateMachineArn": "a", "Tags": [{"Key": "K", "Value": "V"}], "Input": "{\"Keep\":1}"});
        assert_eq!(
            recase(&input, camel),
            json!({"stateMachineArn": "a", "tags": [{"key": "K", "value": "V"}], "input": "{\"Keep\":1}"})
        );
        let mut deep = json!(1);
        for _ in 0..100_000 {
            // Not `json!`, which serializes (recursively) a value it is given.
            deep = Value::Object(Map::from_iter([("a".into(), Value::Array(vec![deep]))]));
        }
        let recased = recase(&deep, pascal);
        assert!(recased.get("A").is_some());
        // Dropping 100,000 levels recursively would overflow: take them apart by hand.
        for value in [deep, recased] {
            let mut stack = vec![value];
            while let Some(mut value) = stack.pop() {
                match &mut value {
                    Value::Object(map) => {
                        stack.extend(std::mem::take(map).into_iter().map(|(_, v)| v))
                    }
                    Value::Array(items) => stack.append(items),
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn errors_are_named_as_aws_names_sdk_errors() {
        let failure = sdk_failure(
            "Sfn",
            &ApiError::new(
                "StateMachineDoesNotExist",
                "State Machine Does Not Exist: 'x'",
            ),
        );
        assert_eq!(failure.error, "Sfn.StateMachineDoesNotExistException");
        assert!(failure.cause.starts_with(
            "State Machine Does Not Exist: 'x' (Service: Sfn, Status Code: 400, Request ID: "
        ));
        let failure = sdk_failure("Sfn", &ApiError::new("ValidationException", "bad"));
        assert_eq!(failure.error, "Sfn.ValidationException");
    }
}
