//! [`ApiError`]: an error in AWS's shape, as the JSON protocols send it.

use serde_json::{Map, Value};

use crate::sfn::errors;

/// An AWS API error: `{"__type": kind, "message": message, ...fields}` with an HTTP status.
///
/// `kind` is the AWS error name clients match on (`StateMachineDoesNotExist`,
/// `ValidationException`, ...); it is also the low-cardinality code for logs and metrics.
/// A 4xx status means the caller's request is at fault and retrying it unchanged will not
/// help; a 5xx status means Sluice is at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct ApiError {
    /// The AWS error name, sent as `__type` and `x-amzn-ErrorType`.
    pub kind: String,
    /// The human-readable message, in AWS's wording where it is known.
    pub message: String,
    /// The HTTP status (400 for every error the Step Functions model declares).
    pub status: u16,
    /// Members besides `message` some errors carry (`resourceName` of `ResourceNotFound`
    /// and `TooManyTags`, `reason` of `ValidationException`, ...), in order.
    pub fields: Vec<(String, Value)>,
}

/// Names of the protocol-level errors every AWS JSON service shares (not in service models).
pub mod protocol {
    /// The `X-Amz-Target` names no operation of a known service.
    pub const UNKNOWN_OPERATION: &str = "UnknownOperationException";
    /// The body is not JSON, or a member has the wrong JSON type.
    pub const SERIALIZATION: &str = "SerializationException";
    /// The operation exists on AWS but Sluice does not implement it (yet).
    pub const UNSUPPORTED_OPERATION: &str = "UnsupportedOperation";
    /// The request body is larger than the server accepts.
    pub const REQUEST_ENTITY_TOO_LARGE: &str = "RequestEntityTooLargeException";
    /// Sluice failed; the request may succeed if retried.
    pub const INTERNAL_FAILURE: &str = "InternalFailure";
    /// `ValidationException`: a request member breaks the model's constraints.
    pub const VALIDATION: &str = "ValidationException";
}

impl ApiError {
    /// A client error (HTTP 400) named `kind`.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            message: message.into(),
            status: 400,
            fields: Vec::new(),
        }
    }

    /// The same error with another HTTP status.
    #[must_use]
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// The same error with one more body member (e.g. `resourceName`).
    #[must_use]
    pub fn with_field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        let name = name.into();
        let value = value.into();
        match self.fields.iter_mut().find(|(n, _)| *n == name) {
            Some(field) => field.1 = value,
            None => self.fields.push((name, value)),
        }
        self
    }

    /// Whether the caller is at fault (4xx), so retrying unchanged cannot help.
    pub fn is_client_error(&self) -> bool {
        self.status < 500
    }

    /// The response body: `{"__type": ..., "message": ..., ...fields}`.
    pub fn to_body(&self) -> Vec<u8> {
        let mut body = Map::with_capacity(2 + self.fields.len());
        body.insert("__type".into(), Value::String(self.kind.clone()));
        body.insert("message".into(), Value::String(self.message.clone()));
        for (name, value) in &self.fields {
            if name != "__type" && name != "message" {
                body.insert(name.clone(), value.clone());
            }
        }
        // A map of strings and JSON values always serializes.
        serde_json::to_vec(&Value::Object(body)).unwrap_or_default()
    }

    // --- protocol errors ----------------------------------------------------------------------

    /// `UnknownOperationException`: no service or operation answers to `target`.
    pub fn unknown_operation(target: &str) -> Self {
        Self::new(
            protocol::UNKNOWN_OPERATION,
            format!("Unknown operation: '{target}'"),
        )
    }

    /// `SerializationException`: the body is not JSON or a member has the wrong type.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new(protocol::SERIALIZATION, message)
    }

    /// `UnsupportedOperation`: `operation` exists on AWS but this server does not run it.
    pub fn unsupported_operation(operation: &str) -> Self {
        Self::new(
            protocol::UNSUPPORTED_OPERATION,
            format!("Operation {operation} is not supported by Sluice yet"),
        )
    }

    /// `RequestEntityTooLargeException` (HTTP 413): the body exceeds `limit` bytes.
    pub fn request_too_large(limit: usize) -> Self {
        Self::new(
            protocol::REQUEST_ENTITY_TOO_LARGE,
            format!("Request body exceeds the limit of {limit} bytes"),
        )
        .with_status(413)
    }

    /// `InternalFailure` (HTTP 500): Sluice is at fault.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(protocol::INTERNAL_FAILURE, message).with_status(500)
    }

    /// `ValidationException` with a free-form message, for the service's own rules
    /// (`Version description can only be set when publish is true`). Constraint violations
    /// of the model use [`crate::shape::Violation`] and [`ApiError::violations`].
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(protocol::VALIDATION, message)
    }

    /// `ValidationException` listing model constraint violations, as AWS words them:
    /// `2 validation errors detected: Value 'x' at 'name' failed to satisfy constraint: ...; ...`.
    pub fn violations(violations: &[crate::shape::Violation]) -> Self {
        let n = violations.len();
        let mut message = format!(
            "{n} validation error{} detected: ",
            if n == 1 { "" } else { "s" }
        );
        for (i, violation) in violations.iter().enumerate() {
            if i > 0 {
                message.push_str("; ");
            }
            message.push_str(&violation.to_string());
        }
        Self::validation(message)
    }

    // --- Step Functions errors ----------------------------------------------------------------
    //
    // Wording recorded against AWS (LocalStack's snapshots): InvalidArn, InvalidName,
    // InvalidDefinition, InvalidExecutionInput, InvalidToken, StateMachineDoesNotExist,
    // StateMachineAlreadyExists, ExecutionDoesNotExist, ExecutionAlreadyExists,
    // ActivityDoesNotExist, ResourceNotFound. StateMachineDeleting and InvalidOutput follow the
    // same pattern unrecorded; the rest take the caller's message.

    /// `InvalidArn`: `Invalid Arn: '<detail>'` (e.g. `Invalid ARN prefix: foo`).
    pub fn invalid_arn(detail: impl std::fmt::Display) -> Self {
        Self::new(errors::INVALID_ARN, format!("Invalid Arn: '{detail}'"))
    }

    /// `InvalidArn` for a state machine's role: `Invalid Role Arn: '<arn>'`.
    pub fn invalid_role_arn(arn: &str) -> Self {
        Self::new(errors::INVALID_ARN, format!("Invalid Role Arn: '{arn}'"))
    }

    /// `InvalidName`: `Invalid Name: '<name>'`.
    pub fn invalid_name(name: &str) -> Self {
        Self::new(errors::INVALID_NAME, format!("Invalid Name: '{name}'"))
    }

    /// `InvalidDefinition`: `Invalid State Machine Definition: '<detail>'`.
    pub fn invalid_definition(detail: impl std::fmt::Display) -> Self {
        Self::new(
            errors::INVALID_DEFINITION,
            format!("Invalid State Machine Definition: '{detail}'"),
        )
    }

    /// `InvalidExecutionInput`: `Invalid State Machine Execution Input: '<detail>'`.
    pub fn invalid_execution_input(detail: impl std::fmt::Display) -> Self {
        Self::new(
            errors::INVALID_EXECUTION_INPUT,
            format!("Invalid State Machine Execution Input: '{detail}'"),
        )
    }

    /// `InvalidOutput`: `Invalid State Machine Output: '<detail>'`.
    pub fn invalid_output(detail: impl std::fmt::Display) -> Self {
        Self::new(
            errors::INVALID_OUTPUT,
            format!("Invalid State Machine Output: '{detail}'"),
        )
    }

    /// `InvalidToken`: `Invalid Token: '<detail>'` (`Invalid token` for a bad `nextToken`).
    pub fn invalid_token(detail: impl std::fmt::Display) -> Self {
        Self::new(errors::INVALID_TOKEN, format!("Invalid Token: '{detail}'"))
    }

    /// `StateMachineDoesNotExist`: `State Machine Does Not Exist: '<arn>'`.
    pub fn state_machine_does_not_exist(arn: &str) -> Self {
        Self::new(
            errors::STATE_MACHINE_DOES_NOT_EXIST,
            format!("State Machine Does Not Exist: '{arn}'"),
        )
    }

    /// `StateMachineAlreadyExists`: `State Machine Already Exists: '<arn>'`.
    pub fn state_machine_already_exists(arn: &str) -> Self {
        Self::new(
            errors::STATE_MACHINE_ALREADY_EXISTS,
            format!("State Machine Already Exists: '{arn}'"),
        )
    }

    /// `StateMachineDeleting`: `State Machine is being deleted: '<arn>'`.
    pub fn state_machine_deleting(arn: &str) -> Self {
        Self::new(
            errors::STATE_MACHINE_DELETING,
            format!("State Machine is being deleted: '{arn}'"),
        )
    }

    /// `StateMachineTypeNotSupported`, e.g. `This operation is not supported by this type of
    /// state machine`.
    pub fn state_machine_type_not_supported(message: impl Into<String>) -> Self {
        Self::new(errors::STATE_MACHINE_TYPE_NOT_SUPPORTED, message)
    }

    /// `ExecutionDoesNotExist`: `Execution Does Not Exist: '<arn>'`.
    pub fn execution_does_not_exist(arn: &str) -> Self {
        Self::new(
            errors::EXECUTION_DOES_NOT_EXIST,
            format!("Execution Does Not Exist: '{arn}'"),
        )
    }

    /// `ExecutionAlreadyExists`: `Execution Already Exists: '<arn>'`.
    pub fn execution_already_exists(arn: &str) -> Self {
        Self::new(
            errors::EXECUTION_ALREADY_EXISTS,
            format!("Execution Already Exists: '{arn}'"),
        )
    }

    /// `ExecutionLimitExceeded` with `message`.
    pub fn execution_limit_exceeded(message: impl Into<String>) -> Self {
        Self::new(errors::EXECUTION_LIMIT_EXCEEDED, message)
    }

    /// `ExecutionNotRedrivable` with `message`.
    pub fn execution_not_redrivable(message: impl Into<String>) -> Self {
        Self::new(errors::EXECUTION_NOT_REDRIVABLE, message)
    }

    /// `ActivityDoesNotExist`: `Activity Does Not Exist: '<arn>'`.
    pub fn activity_does_not_exist(arn: &str) -> Self {
        Self::new(
            errors::ACTIVITY_DOES_NOT_EXIST,
            format!("Activity Does Not Exist: '{arn}'"),
        )
    }

    /// `TaskDoesNotExist` with `message`.
    pub fn task_does_not_exist(message: impl Into<String>) -> Self {
        Self::new(errors::TASK_DOES_NOT_EXIST, message)
    }

    /// `TaskTimedOut` with `message`.
    pub fn task_timed_out(message: impl Into<String>) -> Self {
        Self::new(errors::TASK_TIMED_OUT, message)
    }

    /// `ResourceNotFound`: `Request references a resource that does not exist.`, with the
    /// `resourceName` member.
    pub fn resource_not_found(resource_name: &str) -> Self {
        Self::new(
            errors::RESOURCE_NOT_FOUND,
            "Request references a resource that does not exist.",
        )
        .with_field("resourceName", resource_name)
    }

    /// `ResourceNotFound` as the tagging operations word it: `Resource not found: '<arn>'`,
    /// with the `resourceName` member.
    pub fn tagged_resource_not_found(resource_name: &str) -> Self {
        Self::new(
            errors::RESOURCE_NOT_FOUND,
            format!("Resource not found: '{resource_name}'"),
        )
        .with_field("resourceName", resource_name)
    }

    /// `TooManyTags` with the `resourceName` member.
    pub fn too_many_tags(resource_name: &str, message: impl Into<String>) -> Self {
        Self::new(errors::TOO_MANY_TAGS, message).with_field("resourceName", resource_name)
    }

    /// `ConflictException` with `message`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(errors::CONFLICT_EXCEPTION, message)
    }

    /// `MissingRequiredParameter` with `message`.
    pub fn missing_required_parameter(message: impl Into<String>) -> Self {
        Self::new(errors::MISSING_REQUIRED_PARAMETER, message)
    }

    /// `ServiceQuotaExceededException` with `message`.
    pub fn service_quota_exceeded(message: impl Into<String>) -> Self {
        Self::new(errors::SERVICE_QUOTA_EXCEEDED_EXCEPTION, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_type_message_and_fields() {
        let error = ApiError::resource_not_found("arn:aws:states:us-east-1:123456789012:x");
        let body: Value = serde_json::from_slice(&error.to_body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "__type": "ResourceNotFound",
                "message": "Request references a resource that does not exist.",
                "resourceName": "arn:aws:states:us-east-1:123456789012:x",
            })
        );
        assert_eq!(error.status, 400);
        assert!(error.is_client_error());
    }

    #[test]
    fn fields_cannot_override_type_or_message() {
        let error = ApiError::new("X", "m").with_field("__type", "Y");
        let body: Value = serde_json::from_slice(&error.to_body()).unwrap();
        assert_eq!(body["__type"], "X");
    }

    #[test]
    fn messages_use_aws_wording() {
        assert_eq!(
            ApiError::invalid_arn("Invalid ARN prefix: foo").message,
            "Invalid Arn: 'Invalid ARN prefix: foo'"
        );
        assert_eq!(
            ApiError::state_machine_does_not_exist("arn:x").message,
            "State Machine Does Not Exist: 'arn:x'"
        );
        assert_eq!(ApiError::invalid_name("a b").message, "Invalid Name: 'a b'");
        assert_eq!(ApiError::internal("boom").status, 500);
    }
}
