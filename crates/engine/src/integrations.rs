//! [`Integrations`]: the one [`Dispatch`] a server runs, a registry of Task integrations keyed
//! by the service a Task's `Resource` names, with a mock configuration in front.
//!
//! A resource names its service in one of three forms, and each is registered under a key:
//! - `arn:<partition>:states:::<service>:<action>[.<pattern>]`, an optimized integration
//!   (`lambda:invoke`, `sqs:sendMessage`, ...): the key is `<service>` (`lambda`, `sqs`);
//! - `arn:<partition>:states:::aws-sdk:<service>:<action>[.<pattern>]`, an AWS SDK integration:
//!   the key is `aws-sdk:<service>`, falling back to `aws-sdk` (one integration may route
//!   every SDK service);
//! - a Lambda function's own ARN (`arn:<partition>:lambda:<region>:<account>:function:<name>`):
//!   the key is `lambda`, as for `lambda:invoke`.
//!
//! Built-in integrations the engine performs itself (nested executions, activities) are not
//! registered here. One registry type keeps one server type: which integrations exist is data,
//! not a stack of generic wrappers.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;
use sluice_asl::Failure;
use sluice_types::Arn;

use crate::{Dispatch, MockDispatcher, NoDispatcher, Task};

/// A boxed task future: one allocation per task dispatch, nothing next to the task itself.
pub type TaskFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, Failure>> + Send + 'a>>;

/// One service's Task integration. Tasks are at-least-once: the same task may run again after
/// a crash (`Task::scheduled_event_id` names the run, the same each time).
pub trait Integration: Send + Sync + 'static {
    fn run(&self, task: Task) -> TaskFuture<'_>;

    /// For a `.waitForTaskToken` task: whether [`Integration::run`] makes the call that carries
    /// the token (sends the message, invokes the function), the task then waiting for
    /// SendTaskSuccess/SendTaskFailure. See [`Dispatch::waits_for_callback`].
    fn waits_for_callback(&self, task: &Task) -> bool {
        let _ = task;
        false
    }
}

/// The registry. See the module's documentation.
#[derive(Default, Clone)]
pub struct Integrations {
    mock: Option<MockDispatcher>,
    by_key: HashMap<String, Arc<dyn Integration>>,
}

impl Integrations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers tasks from this mock configuration first when the execution's test case has a
    /// response for the state (as Step Functions Local, which calls the real service for a
    /// state its test case leaves out).
    pub fn with_mock(mut self, mock: MockDispatcher) -> Self {
        self.mock = Some(mock);
        self
    }

    /// Registers `integration` under `key` (see the module's documentation), replacing any.
    pub fn register(mut self, key: impl Into<String>, integration: Arc<dyn Integration>) -> Self {
        self.by_key.insert(key.into(), integration);
        self
    }

    fn mocked(&self, task: &Task) -> Option<&MockDispatcher> {
        self.mock.as_ref().filter(|mock| mock.answers(task))
    }

    fn integration(&self, resource: &str) -> Option<&Arc<dyn Integration>> {
        let key = key_of(resource)?;
        if let Some(found) = self.by_key.get(key) {
            return Some(found);
        }
        key.starts_with("aws-sdk:")
            .then(|| self.by_key.get("aws-sdk"))
            .flatten()
    }
}

impl Dispatch for Integrations {
    async fn dispatch(&self, task: Task) -> Result<Value, Failure> {
        if let Some(mock) = self.mocked(&task) {
            return mock.dispatch(task).await;
        }
        match (self.integration(&task.call.resource), &self.mock) {
            (Some(integration), _) => integration.run(task).await,
            // Says which mocked response is missing.
            (None, Some(mock)) => mock.dispatch(task).await,
            (None, None) => NoDispatcher.dispatch(task).await,
        }
    }

    fn answers(&self, task: &Task) -> bool {
        self.mocked(task).is_some() || self.integration(&task.call.resource).is_some()
    }

    fn waits_for_callback(&self, task: &Task) -> bool {
        if let Some(mock) = self.mocked(task) {
            return mock.waits_for_callback(task);
        }
        self.integration(&task.call.resource)
            .is_some_and(|integration| integration.waits_for_callback(task))
    }
}

/// The registry key of a Task resource, if it names a service. See the module's documentation.
pub fn key_of(resource: &str) -> Option<&str> {
    let arn = Arn::parse(resource).ok()?;
    let rest = arn.resource;
    match arn.service {
        "lambda" => rest.starts_with("function:").then_some("lambda"),
        "states" if arn.region.is_empty() && arn.account.is_empty() => {
            let (service, action) = rest.split_once(':')?;
            if service != "aws-sdk" {
                return (!service.is_empty() && !action.is_empty()).then_some(service);
            }
            // `aws-sdk:<service>:<action>`: the key keeps `aws-sdk:<service>`.
            let (sdk_service, action) = action.split_once(':')?;
            (!sdk_service.is_empty() && !action.is_empty())
                .then(|| &rest[..service.len() + 1 + sdk_service.len()])
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_the_service_of_every_resource_form() {
        let cases = [
            ("arn:aws:states:::lambda:invoke", Some("lambda")),
            (
                "arn:aws:states:::lambda:invoke.waitForTaskToken",
                Some("lambda"),
            ),
            ("arn:aws:states:::sqs:sendMessage", Some("sqs")),
            (
                "arn:aws-cn:states:::sns:publish.waitForTaskToken",
                Some("sns"),
            ),
            (
                "arn:aws:states:::states:startExecution.sync:2",
                Some("states"),
            ),
            ("arn:aws:states:::aws-sdk:s3:getObject", Some("aws-sdk:s3")),
            (
                "arn:aws:states:::aws-sdk:dynamodb:putItem.waitForTaskToken",
                Some("aws-sdk:dynamodb"),
            ),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:F",
                Some("lambda"),
            ),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:F:prod",
                Some("lambda"),
            ),
            // An activity is the engine's own, and the rest is no service.
            ("arn:aws:states:us-east-1:123456789012:activity:A", None),
            ("arn:aws:lambda:us-east-1:123456789012:layer:L", None),
            ("arn:aws:states:::aws-sdk:s3", None),
            ("arn:aws:states:::lambda", None),
            ("arn:aws:states:::", None),
            ("not an arn", None),
            ("", None),
        ];
        for (resource, key) in cases {
            assert_eq!(key_of(resource), key, "{resource}");
        }
    }

    struct Echo(&'static str, bool);

    impl Integration for Echo {
        fn run(&self, task: Task) -> TaskFuture<'_> {
            let name = self.0;
            Box::pin(async move { Ok(serde_json::json!({ "by": name, "input": task.call.input })) })
        }

        fn waits_for_callback(&self, _: &Task) -> bool {
            self.1
        }
    }

    fn task(resource: &str, test_case: Option<&str>) -> Task {
        Task {
            execution: "arn:aws:states:us-east-1:123456789012:execution:M:e".into(),
            machine: "M".into(),
            state: "S".into(),
            call: sluice_asl::step::TaskCall {
                resource: resource.into(),
                input: serde_json::json!({"x": 1}),
                timeout_seconds: None,
                heartbeat_seconds: None,
                task_token: None,
                credentials: None,
                invocation: 0,
            },
            test_case: test_case.map(str::to_string),
            scheduled_event_id: 2,
            submitted: None,
            submissions: None,
        }
    }

    #[tokio::test]
    async fn tasks_go_to_the_integration_of_their_service() {
        let registry = Integrations::new()
            .register("lambda", Arc::new(Echo("lambda", true)))
            .register("aws-sdk", Arc::new(Echo("sdk", false)))
            .register("aws-sdk:s3", Arc::new(Echo("s3", false)));
        let by = |resource: &str| {
            let registry = registry.clone();
            let resource = resource.to_string();
            async move {
                registry
                    .dispatch(task(&resource, None))
                    .await
                    .map(|v| v["by"].clone())
            }
        };
        assert_eq!(
            by("arn:aws:states:::lambda:invoke").await,
            Ok("lambda".into())
        );
        assert_eq!(
            by("arn:aws:lambda:us-east-1:123456789012:function:F").await,
            Ok("lambda".into())
        );
        assert_eq!(
            by("arn:aws:states:::aws-sdk:s3:getObject").await,
            Ok("s3".into())
        );
        assert_eq!(
            by("arn:aws:states:::aws-sdk:sqs:sendMessage").await,
            Ok("sdk".into())
        );
        let unknown = registry
            .dispatch(task("arn:aws:states:::sqs:sendMessage", None))
            .await;
        assert_eq!(
            unknown.map_err(|f| f.error),
            Err("States.Runtime".to_string())
        );
        assert!(registry.answers(&task("arn:aws:states:::lambda:invoke", None)));
        assert!(!registry.answers(&task("arn:aws:states:::sqs:sendMessage", None)));
        assert!(registry.waits_for_callback(&task("arn:aws:states:::lambda:invoke", None)));
        assert!(!registry.waits_for_callback(&task("arn:aws:states:::aws-sdk:s3:x", None)));
    }

    #[tokio::test]
    async fn a_mocked_response_takes_precedence_over_the_integration() {
        let mock = sluice_asl::mock::MockConfig::parse(
            r#"{"StateMachines": {"M": {"TestCases": {"T": {"S": "R"}}}},
                "MockedResponses": {"R": {"0": {"Return": {"mocked": true}}}}}"#,
        )
        .expect("mock config");
        let registry = Integrations::new()
            .with_mock(MockDispatcher::new(mock))
            .register("lambda", Arc::new(Echo("lambda", true)));
        let mocked = task("arn:aws:states:::lambda:invoke", Some("T"));
        assert!(registry.answers(&mocked));
        // The mocked response stands in for the whole task, callback included.
        assert!(!registry.waits_for_callback(&mocked));
        assert_eq!(
            registry.dispatch(mocked).await,
            Ok(serde_json::json!({"mocked": true}))
        );
        // Without a test case the function runs.
        let real = registry
            .dispatch(task("arn:aws:states:::lambda:invoke", None))
            .await;
        assert_eq!(real.map(|v| v["by"].clone()), Ok("lambda".into()));
    }
}
