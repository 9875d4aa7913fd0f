//! SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat (the engine routes each by its task
//! token: `sluice_engine::Engine::send_task_success`), and what an EXPRESS machine may not
//! contain (`sluice_asl::express`: `.waitForTaskToken`, `.sync`, activities), refused by
//! CreateStateMachine, UpdateStateMachine and ValidateStateMachineDefinition as on AWS.
//!
//! A child module of `backend` (declared there).

use serde_json::Value;
use sluice_api::ApiError;
use sluice_api::sfn::model::{
    SendTaskFailureInput, SendTaskFailureOutput, SendTaskHeartbeatInput, SendTaskHeartbeatOutput,
    SendTaskSuccessInput, SendTaskSuccessOutput,
};
use sluice_asl::Diagnostic;
use sluice_asl::express::express_diagnostics;
use sluice_engine::{CallbackError, Dispatch};
use sluice_store::Store;

use super::{Backend, store_error};

impl<S: Store, D: Dispatch> Backend<S, D> {
    pub(super) async fn task_success(
        &self,
        input: SendTaskSuccessInput,
    ) -> Result<SendTaskSuccessOutput, ApiError> {
        let output: Value =
            sluice_asl::json::parse(&input.output).map_err(ApiError::invalid_output)?;
        self.engine
            .send_task_success(&input.task_token, output)
            .await
            .map_err(callback_error)?;
        Ok(SendTaskSuccessOutput {})
    }

    pub(super) async fn task_failure(
        &self,
        input: SendTaskFailureInput,
    ) -> Result<SendTaskFailureOutput, ApiError> {
        self.engine
            .send_task_failure(
                &input.task_token,
                input.error.unwrap_or_default(),
                input.cause.unwrap_or_default(),
            )
            .await
            .map_err(callback_error)?;
        Ok(SendTaskFailureOutput {})
    }

    pub(super) async fn task_heartbeat(
        &self,
        input: SendTaskHeartbeatInput,
    ) -> Result<SendTaskHeartbeatOutput, ApiError> {
        self.engine
            .send_task_heartbeat(&input.task_token)
            .await
            .map_err(callback_error)?;
        Ok(SendTaskHeartbeatOutput {})
    }
}

pub(super) fn callback_error(error: CallbackError) -> ApiError {
    match error {
        CallbackError::InvalidToken => ApiError::invalid_token("Invalid token"),
        CallbackError::TaskDoesNotExist => ApiError::task_does_not_exist(error.to_string()),
        CallbackError::TaskTimedOut => ApiError::task_timed_out(error.to_string()),
        CallbackError::Store(error) => store_error(error),
        other => {
            tracing::error!(error = %other, "task callback failed");
            ApiError::internal(other.to_string())
        }
    }
}

/// The diagnostics of what an EXPRESS machine cannot run in `definition` (a definition the
/// language accepts; anything unparseable has no such diagnostics).
pub(super) fn express_errors(definition: &str) -> Vec<Diagnostic> {
    serde_json::from_str::<Value>(definition)
        .map(|v| express_diagnostics(&v))
        .unwrap_or_default()
}

/// `InvalidDefinition` for what an EXPRESS machine cannot run, as AWS words it.
pub(super) fn check_express(definition: &str) -> Result<(), ApiError> {
    let errors = express_errors(definition);
    if errors.is_empty() {
        return Ok(());
    }
    let detail = errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    Err(ApiError::invalid_definition(detail))
}
