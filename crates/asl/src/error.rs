//! Runtime failures in ASL terms: an error name that `Retry` and `Catch` match on, and a cause.

use std::fmt;

/// The error names the States language predefines (AWS developer guide, "Error names").
pub mod names {
    pub const ALL: &str = "States.ALL";
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    pub const TIMEOUT: &str = "States.Timeout";
    pub const TASK_FAILED: &str = "States.TaskFailed";
    pub const PERMISSIONS: &str = "States.Permissions";
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
    pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
    pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
    pub const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";
    pub const RUNTIME: &str = "States.Runtime";
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
}

/// A failure raised while running a state: what a `Catch` sees as `{"Error", "Cause"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Failure {
    pub error: String,
    pub cause: String,
}

impl Failure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
        }
    }

    /// `States.Runtime`: an exception that could not be processed (e.g. a path that does not
    /// resolve). AWS never retries these, even with `States.ALL`.
    pub fn runtime(cause: impl Into<String>) -> Self {
        Self::new(names::RUNTIME, cause)
    }

    /// `States.IntrinsicFailure`: an intrinsic function call failed.
    pub fn intrinsic(cause: impl Into<String>) -> Self {
        Self::new(names::INTRINSIC_FAILURE, cause)
    }

    /// `States.ParameterPathFailure`: a `.$` field of Parameters/ItemSelector did not resolve.
    pub fn parameter_path(cause: impl Into<String>) -> Self {
        Self::new(names::PARAMETER_PATH_FAILURE, cause)
    }

    /// `States.ResultPathMatchFailure`: ResultPath cannot be applied to the state input.
    pub fn result_path(cause: impl Into<String>) -> Self {
        Self::new(names::RESULT_PATH_MATCH_FAILURE, cause)
    }

    /// `States.DataLimitExceeded`: a payload is over the configured limit.
    pub fn data_limit(cause: impl Into<String>) -> Self {
        Self::new(names::DATA_LIMIT_EXCEEDED, cause)
    }

    /// Whether this is one of the errors `States.ALL` does not match for retries
    /// (`States.Runtime` and `States.DataLimitExceeded` are terminal, per the AWS guide).
    pub fn is_terminal(&self) -> bool {
        self.error == names::RUNTIME || self.error == names::DATA_LIMIT_EXCEEDED
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error, self.cause)
    }
}

impl std::error::Error for Failure {}
