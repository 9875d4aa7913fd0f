//! TestState over the API: the request's shapes into [`sluice_asl::test_state`] and its answer
//! (or refusal) back into AWS's shapes. The state runs in the request, synchronously: it is
//! pure, and nothing it does is waited for or stored.

use std::hash::{BuildHasher, Hasher};

use chrono::{DateTime, SecondsFormat};
use serde_json::Value;
use sluice_api::ApiError;
use sluice_api::sfn::model::{
    InspectionData, InspectionErrorDetails, InspectionLevel as WireLevel, TestExecutionStatus,
    TestStateInput, TestStateOutput,
};
use sluice_api::sfn::{Scope, StatesArns as _, errors};
use sluice_asl::step::Execution;
use sluice_asl::test_state::{
    self, Configuration, ErrorDetails, Inspection, InspectionLevel, Mock, MockError, Rejection,
    Status, TestStateRequest,
};

/// Runs `input`'s state at `now_ms`, with ARNs in `scope` for the default context object.
pub fn run(input: TestStateInput, scope: &Scope, now_ms: i64) -> Result<TestStateOutput, ApiError> {
    let state_input = match input.input.as_deref() {
        None => Value::Object(Default::default()),
        Some(text) => sluice_asl::json::parse(text).map_err(ApiError::invalid_execution_input)?,
    };
    let id = sluice_api::request_id::uuid_v4();
    let machine = format!("TestState-{id}");
    let now = DateTime::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    let machine_arn = scope.state_machine_arn(&machine);
    let execution = Execution {
        // AWS tests a state in an EXPRESS execution of a machine made for the test.
        id: format!(
            "{}:{id}",
            machine_arn.replacen(":stateMachine:", ":express:", 1)
        ),
        name: id,
        role_arn: input.role_arn.clone().unwrap_or_default(),
        start_time: now.clone(),
        state_machine_id: machine_arn,
        state_machine_name: machine,
        ..Execution::default()
    };
    let config = input.state_configuration.unwrap_or_default();
    let count = |n: Option<i32>| n.map(|n| u64::try_from(n).unwrap_or(0));
    let request = TestStateRequest {
        definition: &input.definition,
        state_name: input.state_name.as_deref(),
        input: state_input,
        inspection_level: match input.inspection_level.unwrap_or_default() {
            WireLevel::Info => InspectionLevel::Info,
            WireLevel::Debug => InspectionLevel::Debug,
            WireLevel::Trace => InspectionLevel::Trace,
        },
        reveal_secrets: input.reveal_secrets.unwrap_or(false),
        role_arn: input.role_arn.as_deref(),
        variables: input.variables.as_deref(),
        context: input.context.as_deref(),
        mock: input.mock.map(|m| Mock {
            result: m.result,
            error_output: m.error_output.map(|e| MockError {
                error: e.error,
                cause: e.cause,
            }),
        }),
        configuration: Configuration {
            retrier_retry_count: count(config.retrier_retry_count),
            map_iteration_failure_count: count(config.map_iteration_failure_count),
            error_caused_by_state: config.error_caused_by_state,
            map_item_reader_data: config.map_item_reader_data,
        },
        execution,
        entered_time: &now,
        seed: std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish(),
    };
    let result = test_state::test_state(&request).map_err(|rejection| match rejection {
        Rejection::InvalidDefinition(detail) => ApiError::invalid_definition(detail),
        Rejection::UnsupportedState(message) => ApiError::new(errors::INVALID_DEFINITION, message),
        Rejection::Validation(message) => ApiError::validation(message),
    })?;
    let (error, cause) = match result.error {
        Some(f) => (non_empty(f.error), non_empty(f.cause)),
        None => (None, None),
    };
    Ok(TestStateOutput {
        output: result.output.as_ref().map(text),
        error,
        cause,
        inspection_data: result.inspection.map(inspection_data),
        next_state: result.next_state,
        status: Some(match result.status {
            Status::Succeeded => TestExecutionStatus::Succeeded,
            Status::Failed => TestExecutionStatus::Failed,
            Status::Retriable => TestExecutionStatus::Retriable,
            Status::CaughtError => TestExecutionStatus::CaughtError,
        }),
    })
}

fn text(value: &Value) -> String {
    value.to_string()
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn int(n: impl TryInto<i32>) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

fn inspection_data(i: Inspection) -> InspectionData {
    let json = |v: Option<Value>| v.as_ref().map(text);
    InspectionData {
        input: json(i.input),
        after_input_path: json(i.after_input_path),
        after_parameters: json(i.after_parameters),
        after_arguments: json(i.after_arguments),
        result: json(i.result),
        after_result_selector: json(i.after_result_selector),
        after_result_path: json(i.after_result_path),
        after_items_path: json(i.after_items_path),
        after_item_selector: json(i.after_item_selector),
        variables: json(i.variables),
        max_concurrency: i.max_concurrency.map(int),
        tolerated_failure_count: i.tolerated_failure_count.map(int),
        tolerated_failure_percentage: i.tolerated_failure_percentage,
        error_details: i.error_details.map(
            |ErrorDetails {
                 retry_index,
                 retry_backoff_interval_seconds,
                 catch_index,
             }| InspectionErrorDetails {
                catch_index: catch_index.map(int),
                retry_index: retry_index.map(int),
                retry_backoff_interval_seconds: retry_backoff_interval_seconds.map(int),
            },
        ),
        ..InspectionData::default()
    }
}
