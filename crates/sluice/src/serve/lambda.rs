//! [`LambdaBackend`]: the Lambda API (`sluice_api::lambda`) over the functions service
//! (`sluice_functions::Functions`) — AWS's fields, defaults and errors.

use std::collections::BTreeMap;

use axum::body::Bytes;
use base64::Engine as _;
use sluice_api::ApiError;
use sluice_api::lambda::model::{
    Concurrency, CreateFunctionRequest, DeleteFunctionConcurrencyRequest, DeleteFunctionRequest,
    EnvironmentResponse, EphemeralStorage, FunctionCodeLocation, FunctionConfiguration,
    GetFunctionConcurrencyRequest, GetFunctionConcurrencyResponse, GetFunctionConfigurationRequest,
    GetFunctionRequest, GetFunctionResponse, InvocationRequest, ListFunctionsRequest,
    ListFunctionsResponse, LoggingConfig, PutFunctionConcurrencyRequest, SnapStartResponse,
    TracingConfigResponse, UpdateFunctionCodeRequest, UpdateFunctionConfigurationRequest,
};
use sluice_api::lambda::{Invocation, Lambda};
use sluice_functions::{Error, Function, Functions, InvokeOptions, Settings};

/// The most functions ListFunctions returns per page (AWS: 50).
const PAGE_SIZE: usize = 50;

/// The Lambda API on a [`Functions`] service.
pub struct LambdaBackend {
    functions: Functions,
}

impl LambdaBackend {
    pub fn new(functions: Functions) -> Self {
        Self { functions }
    }

    /// The function name a `FunctionName` member names, with its qualifier.
    fn name(&self, input: &str) -> Result<(String, Option<String>), ApiError> {
        sluice_functions::parse_function_name(input).ok_or_else(|| {
            ApiError::violations(&[sluice_api::shape::Violation {
                path: "functionName".into(),
                value: Some(format!("'{input}'")),
                constraint: "Member must satisfy regular expression pattern: \
                             (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
                    .into(),
            }])
        })
    }

    /// The unqualified function `input` names (a qualifier other than `$LATEST` names a
    /// version, which does not exist yet).
    fn function(&self, input: &str, qualifier: Option<&str>) -> Result<Function, ApiError> {
        let (name, from_name) = self.name(input)?;
        if let (Some(a), Some(b)) = (&from_name, qualifier)
            && a != b
        {
            return Err(ApiError::new(
                "InvalidParameterValueException",
                "The derived qualifier from the function name does not match the specified \
                 qualifier.",
            ));
        }
        let qualifier = qualifier.map(str::to_owned).or(from_name);
        if let Some(q) = qualifier.as_deref()
            && q != sluice_functions::LATEST
        {
            return Err(api_error(self.functions.not_found(&name, Some(q))));
        }
        self.functions.get(&name).map_err(api_error)
    }

    fn configuration(&self, function: &Function) -> FunctionConfiguration {
        FunctionConfiguration {
            function_name: Some(function.name.clone()),
            function_arn: Some(self.functions.arn(&function.name)),
            runtime: Some(function.runtime.clone()),
            role: Some(function.role.clone()),
            handler: function.handler.clone(),
            code_size: Some(function.code_size as i64),
            description: Some(function.description.clone()),
            timeout: Some(function.timeout as i32),
            memory_size: Some(function.memory_size as i32),
            last_modified: Some(function.last_modified.clone()),
            code_sha256: Some(function.code_sha256.clone()),
            version: Some(sluice_functions::LATEST.into()),
            environment: Some(EnvironmentResponse {
                variables: Some(function.environment.clone()),
                error: None,
            }),
            tracing_config: Some(TracingConfigResponse {
                mode: Some("PassThrough".into()),
            }),
            revision_id: Some(function.revision_id.clone()),
            state: Some("Active".into()),
            last_update_status: Some("Successful".into()),
            package_type: Some("Zip".into()),
            architectures: Some(vec!["x86_64".into()]),
            ephemeral_storage: Some(EphemeralStorage { size: 512 }),
            snap_start: Some(SnapStartResponse {
                apply_on: Some("None".into()),
                optimization_status: Some("Off".into()),
            }),
            logging_config: Some(LoggingConfig {
                log_format: Some("Text".into()),
                log_group: Some(format!("/aws/lambda/{}", function.name)),
                ..LoggingConfig::default()
            }),
            ..FunctionConfiguration::default()
        }
    }
}

/// The functions service's error as the Lambda API sends it.
fn api_error(error: Error) -> ApiError {
    let mut api = ApiError::new(error.code(), error.to_string()).with_status(error.status());
    if let Error::TooManyRequests { reason } = &error {
        api = api.with_field("Reason", *reason);
    }
    if !error.is_client_error() {
        tracing::warn!(%error, "functions service error");
    }
    api
}

fn zip_of(zip_file: Option<&str>, s3: bool, image: bool) -> Result<Vec<u8>, ApiError> {
    if image {
        return Err(ApiError::new(
            "InvalidParameterValueException",
            "Sluice runs Zip functions only: container images are not supported",
        ));
    }
    if s3 {
        return Err(ApiError::new(
            "InvalidParameterValueException",
            "Sluice takes code as ZipFile only: S3Bucket/S3Key are not supported yet",
        ));
    }
    let Some(zip_file) = zip_file else {
        return Err(ApiError::new(
            "InvalidParameterValueException",
            "Please provide a source for function code.",
        ));
    };
    base64::engine::general_purpose::STANDARD
        .decode(zip_file)
        .map_err(|_| {
            ApiError::new(
                "InvalidParameterValueException",
                sluice_functions::archive::CANNOT_UNZIP,
            )
        })
}

fn environment(
    environment: Option<&sluice_api::lambda::model::Environment>,
) -> Option<BTreeMap<String, String>> {
    environment.map(|e| e.variables.clone().unwrap_or_default())
}

impl Lambda for LambdaBackend {
    async fn create_function(
        &self,
        input: CreateFunctionRequest,
    ) -> Result<FunctionConfiguration, ApiError> {
        let (name, qualifier) = self.name(&input.function_name)?;
        if qualifier.is_some() {
            return Err(ApiError::new(
                "InvalidParameterValueException",
                "Qualifiers are not supported for CreateFunction",
            ));
        }
        if input.package_type.as_deref() == Some("Image") {
            return Err(ApiError::new(
                "InvalidParameterValueException",
                "Sluice runs Zip functions only: container images are not supported",
            ));
        }
        let code = &input.code;
        let zip = zip_of(
            code.zip_file.as_deref(),
            code.s3_bucket.is_some() || code.s3_key.is_some(),
            code.image_uri.is_some(),
        )?;
        let settings = Settings {
            runtime: input.runtime.clone(),
            handler: input.handler.clone(),
            role: Some(input.role.clone()),
            description: input.description.clone(),
            timeout: input.timeout.map(i64::from),
            memory_size: input.memory_size.map(i64::from),
            environment: environment(input.environment.as_ref()),
        };
        let functions = self.functions.clone();
        let function =
            tokio::task::spawn_blocking(move || functions.create(&name, &settings, &zip))
                .await
                .map_err(|e| ApiError::internal(format!("create: {e}")))?
                .map_err(api_error)?;
        Ok(self.configuration(&function))
    }

    async fn get_function(
        &self,
        input: GetFunctionRequest,
    ) -> Result<GetFunctionResponse, ApiError> {
        let function = self.function(&input.function_name, input.qualifier.as_deref())?;
        let location = format!("file://{}", self.functions.code_path(&function).display());
        Ok(GetFunctionResponse {
            configuration: Some(self.configuration(&function)),
            code: Some(FunctionCodeLocation {
                repository_type: Some("S3".into()),
                location: Some(location),
                ..FunctionCodeLocation::default()
            }),
            concurrency: function.reserved_concurrency.map(|n| Concurrency {
                reserved_concurrent_executions: Some(n as i32),
            }),
            ..GetFunctionResponse::default()
        })
    }

    async fn get_function_configuration(
        &self,
        input: GetFunctionConfigurationRequest,
    ) -> Result<FunctionConfiguration, ApiError> {
        let function = self.function(&input.function_name, input.qualifier.as_deref())?;
        Ok(self.configuration(&function))
    }

    async fn list_functions(
        &self,
        input: ListFunctionsRequest,
    ) -> Result<ListFunctionsResponse, ApiError> {
        let size = input
            .max_items
            .map_or(PAGE_SIZE, |n| (n.max(1) as usize).min(PAGE_SIZE));
        let all = self.functions.list();
        // The marker is the last name of the previous page (names are listed in order).
        let start = match &input.marker {
            Some(marker) => all.partition_point(|f| f.name.as_str() <= marker.as_str()),
            None => 0,
        };
        let page: Vec<&Function> = all[start..].iter().take(size).collect();
        let next_marker = (start + page.len() < all.len())
            .then(|| page.last().map(|f| f.name.clone()))
            .flatten();
        Ok(ListFunctionsResponse {
            functions: Some(page.iter().map(|f| self.configuration(f)).collect()),
            next_marker,
        })
    }

    async fn delete_function(&self, input: DeleteFunctionRequest) -> Result<(), ApiError> {
        let (name, from_name) = self.name(&input.function_name)?;
        if let Some(q) = input.qualifier.or(from_name) {
            return Err(if q == sluice_functions::LATEST {
                ApiError::new(
                    "InvalidParameterValueException",
                    "$LATEST version cannot be deleted without deleting the function.",
                )
            } else {
                api_error(self.functions.not_found(&name, Some(&q)))
            });
        }
        let functions = self.functions.clone();
        tokio::task::spawn_blocking(move || functions.delete(&name))
            .await
            .map_err(|e| ApiError::internal(format!("delete: {e}")))?
            .map_err(api_error)
    }

    async fn update_function_code(
        &self,
        input: UpdateFunctionCodeRequest,
    ) -> Result<FunctionConfiguration, ApiError> {
        let function = self.function(&input.function_name, None)?;
        if input
            .revision_id
            .as_ref()
            .is_some_and(|r| *r != function.revision_id)
        {
            return Err(precondition_failed());
        }
        let zip = zip_of(
            input.zip_file.as_deref(),
            input.s3_bucket.is_some() || input.s3_key.is_some(),
            input.image_uri.is_some(),
        )?;
        if input.dry_run == Some(true) {
            sluice_functions::archive::check_zipped_size(zip.len() as u64).map_err(api_error)?;
            return Ok(self.configuration(&function));
        }
        let functions = self.functions.clone();
        let function =
            tokio::task::spawn_blocking(move || functions.update_code(&function.name, &zip))
                .await
                .map_err(|e| ApiError::internal(format!("update: {e}")))?
                .map_err(api_error)?;
        Ok(self.configuration(&function))
    }

    async fn update_function_configuration(
        &self,
        input: UpdateFunctionConfigurationRequest,
    ) -> Result<FunctionConfiguration, ApiError> {
        let function = self.function(&input.function_name, None)?;
        if input
            .revision_id
            .as_ref()
            .is_some_and(|r| *r != function.revision_id)
        {
            return Err(precondition_failed());
        }
        let settings = Settings {
            runtime: input.runtime.clone(),
            handler: input.handler.clone(),
            role: input.role.clone(),
            description: input.description.clone(),
            timeout: input.timeout.map(i64::from),
            memory_size: input.memory_size.map(i64::from),
            environment: environment(input.environment.as_ref()),
        };
        let function = self
            .functions
            .update_configuration(&function.name, &settings)
            .map_err(api_error)?;
        Ok(self.configuration(&function))
    }

    async fn invoke(
        &self,
        input: InvocationRequest,
        payload: Bytes,
    ) -> Result<Invocation, ApiError> {
        let (name, from_name) = self.name(&input.function_name)?;
        if let (Some(a), Some(b)) = (&from_name, &input.qualifier)
            && a != b
        {
            return Err(ApiError::new(
                "InvalidParameterValueException",
                "The derived qualifier from the function name does not match the specified \
                 qualifier.",
            ));
        }
        let options = InvokeOptions {
            qualifier: input.qualifier.clone().or(from_name),
            client_context: input.client_context.clone(),
            idempotency_key: None,
        };
        let tail = input.log_type.as_deref() == Some("Tail");
        match input
            .invocation_type
            .as_deref()
            .unwrap_or("RequestResponse")
        {
            "DryRun" => {
                self.functions
                    .check_invocable(&name, options.qualifier.as_deref())
                    .map_err(api_error)?;
                Ok(Invocation {
                    status: 204,
                    function_error: None,
                    executed_version: None,
                    log_result: None,
                    payload: Bytes::new(),
                })
            }
            "Event" => {
                self.functions
                    .invoke_event(&name, payload, options)
                    .await
                    .map_err(api_error)?;
                Ok(Invocation {
                    status: 202,
                    function_error: None,
                    executed_version: None,
                    log_result: None,
                    payload: Bytes::new(),
                })
            }
            _ => {
                let invoked = self
                    .functions
                    .invoke(&name, payload, options)
                    .await
                    .map_err(api_error)?;
                let log_result = tail.then(|| {
                    let logs = self.functions.logs(&name, &invoked.request_id);
                    // The last 4 KB, as AWS.
                    let start = logs.len().saturating_sub(4096);
                    let start = (start..logs.len())
                        .find(|i| logs.is_char_boundary(*i))
                        .unwrap_or(logs.len());
                    base64::engine::general_purpose::STANDARD.encode(&logs[start..])
                });
                Ok(Invocation {
                    status: 200,
                    function_error: invoked.function_error.as_ref().map(|_| "Unhandled".into()),
                    executed_version: Some(invoked.executed_version.into()),
                    log_result,
                    payload: invoked.payload,
                })
            }
        }
    }

    async fn put_function_concurrency(
        &self,
        input: PutFunctionConcurrencyRequest,
    ) -> Result<Concurrency, ApiError> {
        let function = self.function(&input.function_name, None)?;
        let reserved = u32::try_from(input.reserved_concurrent_executions).map_err(|_| {
            ApiError::validation(format!(
                "1 validation error detected: Value '{}' at 'reservedConcurrentExecutions' \
                 failed to satisfy constraint: Member must have value greater than or equal to 0",
                input.reserved_concurrent_executions
            ))
        })?;
        let function = self
            .functions
            .set_reserved_concurrency(&function.name, Some(reserved))
            .map_err(api_error)?;
        Ok(Concurrency {
            reserved_concurrent_executions: function.reserved_concurrency.map(|n| n as i32),
        })
    }

    async fn get_function_concurrency(
        &self,
        input: GetFunctionConcurrencyRequest,
    ) -> Result<GetFunctionConcurrencyResponse, ApiError> {
        let function = self.function(&input.function_name, None)?;
        Ok(GetFunctionConcurrencyResponse {
            reserved_concurrent_executions: function.reserved_concurrency.map(|n| n as i32),
        })
    }

    async fn delete_function_concurrency(
        &self,
        input: DeleteFunctionConcurrencyRequest,
    ) -> Result<(), ApiError> {
        let function = self.function(&input.function_name, None)?;
        self.functions
            .set_reserved_concurrency(&function.name, None)
            .map_err(api_error)?;
        Ok(())
    }
}

fn precondition_failed() -> ApiError {
    ApiError::new(
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id. Call the \
         GetFunction/GetAlias API to retrieve the latest Revision Id",
    )
    .with_status(412)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sluice_functions_knows_every_runtime_of_the_model() {
        assert_eq!(
            sluice_functions::function::RUNTIMES,
            sluice_api::lambda::model::RUNTIME_VALUES
        );
    }
}
