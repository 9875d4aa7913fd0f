//! [`LambdaBackend`]: the Lambda API (`sluice_api::lambda`) over the functions service
//! (`sluice_functions::Functions`) — AWS's fields, defaults and errors; versions and aliases
//! as AWS shows them (qualified ARNs, `$LATEST` first in ListVersionsByFunction); event invoke
//! configs as AWS shows them (both destination members, settings only when set). [`routes`]:
//! Sluice's own routes over the functions (their logs, their deployment packages).

pub mod routes;

use sluice_functions::LambdaArns as _;
use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use sluice_api::ApiError;
use sluice_api::gateway::request_endpoint;
use sluice_api::lambda::Lambda;
use sluice_api::lambda::model::{
    AliasConfiguration, AliasRoutingConfiguration, Concurrency, CreateAliasRequest,
    CreateFunctionRequest, DeleteAliasRequest, DeleteFunctionConcurrencyRequest,
    DeleteFunctionEventInvokeConfigRequest, DeleteFunctionRequest, DeleteFunctionResponse,
    DestinationConfig, EnvironmentResponse, EphemeralStorage, FunctionCodeLocation,
    FunctionConfiguration, FunctionEventInvokeConfig, GetAliasRequest,
    GetFunctionConcurrencyRequest, GetFunctionConcurrencyResponse, GetFunctionConfigurationRequest,
    GetFunctionEventInvokeConfigRequest, GetFunctionRequest, GetFunctionResponse,
    InvocationRequest, InvocationResponse, ListAliasesRequest, ListAliasesResponse,
    ListFunctionEventInvokeConfigsRequest, ListFunctionEventInvokeConfigsResponse,
    ListFunctionsRequest, ListFunctionsResponse, ListVersionsByFunctionRequest,
    ListVersionsByFunctionResponse, LoggingConfig, OnFailure, OnSuccess, PublishVersionRequest,
    PutFunctionConcurrencyRequest, PutFunctionEventInvokeConfigRequest, SnapStartResponse,
    TracingConfigResponse, UpdateAliasRequest, UpdateFunctionCodeRequest,
    UpdateFunctionConfigurationRequest, UpdateFunctionEventInvokeConfigRequest,
};
use sluice_api::lambda::model::{
    CreateEventSourceMappingRequest, DeleteEventSourceMappingRequest,
    EventSourceMappingConfiguration, GetEventSourceMappingRequest, ListEventSourceMappingsRequest,
    ListEventSourceMappingsResponse, UpdateEventSourceMappingRequest,
};
use sluice_functions::{
    Alias, AliasUpdate, DestinationChange, Error, EventInvokeConfig, EventInvokeConfigChange,
    Function, FunctionName, Functions, InvokeOptions, LATEST, Settings,
};

/// The most functions, versions or aliases a listing returns per page (AWS: 50).
const PAGE_SIZE: usize = 50;

/// The Lambda API on a [`Functions`] service: each request acts in the region it was signed
/// for (the configured one when unsigned), and a full ARN's function in the ARN's region.
pub struct LambdaBackend {
    /// The configured region's view.
    functions: Functions,
    /// The event-source mappings, when the server runs queues.
    mappings: Option<crate::mappings::Mappings>,
    /// Where `S3Bucket`/`S3Key` code comes from, when the server has buckets.
    code: Option<Arc<dyn CodeSource>>,
}

/// The bytes of an object, or S3's error code and message.
pub type CodeFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Vec<u8>, (String, String)>> + Send + 'a>,
>;

/// Function code kept as objects (`Code.S3Bucket` and `S3Key`).
pub trait CodeSource: Send + Sync + 'static {
    fn fetch<'a>(&'a self, bucket: &'a str, key: &'a str) -> CodeFuture<'a>;
}

impl LambdaBackend {
    pub fn new(functions: Functions) -> Self {
        Self {
            functions,
            mappings: None,
            code: None,
        }
    }

    /// This API with function code read from `code` when given as `S3Bucket`/`S3Key`.
    pub fn with_code_source(mut self, code: Arc<dyn CodeSource>) -> Self {
        self.code = Some(code);
        self
    }

    /// The zip a request gives: inline, or an object of a bucket.
    async fn zip(
        &self,
        zip_file: Option<&str>,
        s3: (Option<&str>, Option<&str>),
        image: bool,
    ) -> Result<Vec<u8>, ApiError> {
        match (s3, &self.code) {
            ((None, None), _) => zip_of(zip_file, false, image),
            ((Some(bucket), Some(key)), Some(code)) if zip_file.is_none() && !image => {
                code.fetch(bucket, key).await.map_err(|(code, message)| {
                    ApiError::new(
                        "InvalidParameterValueException",
                        format!(
                            "Error occurred while GetObject. S3 Error Code: {code}. S3 Error Message: {message}"
                        ),
                    )
                })
            }
            ((Some(_), None), _) | ((None, Some(_)), _) => Err(ApiError::new(
                "InvalidParameterValueException",
                "Both S3Bucket and S3Key must be given for code in S3",
            )),
            _ => zip_of(zip_file, true, image),
        }
    }

    /// This API with the event-source mapping operations served by `mappings`.
    pub fn with_mappings(mut self, mappings: crate::mappings::Mappings) -> Self {
        self.mappings = Some(mappings);
        self
    }

    fn mappings(&self, operation: &str) -> Result<&crate::mappings::Mappings, ApiError> {
        self.mappings
            .as_ref()
            .ok_or_else(|| ApiError::unsupported_operation(operation))
    }

    /// The functions of the region the request was signed for.
    fn regional(&self) -> Functions {
        regional(&self.functions)
    }

    /// The function name a `FunctionName` member names, with its qualifier, and the view of
    /// the region it lives in (a full ARN's, else the request's).
    fn name(&self, input: &str) -> Result<(Functions, String, Option<String>), ApiError> {
        let named = FunctionName::parse(input).ok_or_else(|| {
            ApiError::violations(&[sluice_api::shape::Violation {
                path: "functionName".into(),
                value: Some(format!("'{input}'")),
                constraint: "Member must satisfy regular expression pattern: \
                             (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
                    .into(),
            }])
        })?;
        let functions = functions_of(&self.functions, &named);
        Ok((functions, named.name, named.qualifier))
    }

    /// The function name `input` names and the qualifier it or `qualifier` gives (both: they
    /// must agree).
    fn qualified(
        &self,
        input: &str,
        qualifier: Option<&str>,
    ) -> Result<(Functions, String, Option<String>), ApiError> {
        let (functions, name, from_name) = self.name(input)?;
        if let (Some(a), Some(b)) = (&from_name, qualifier)
            && a != b
        {
            return Err(ApiError::new(
                "InvalidParameterValueException",
                "The derived qualifier from the function name does not match the specified \
                 qualifier.",
            ));
        }
        Ok((functions, name, qualifier.map(str::to_owned).or(from_name)))
    }

    /// The version `input` (and `qualifier`) name — an alias: the version it names — and the
    /// qualifier that named it.
    fn function(
        &self,
        input: &str,
        qualifier: Option<&str>,
    ) -> Result<(Functions, Function, Option<String>), ApiError> {
        let (functions, name, qualifier) = self.qualified(input, qualifier)?;
        let function = functions
            .resolve(&name, qualifier.as_deref())
            .map_err(api_error)?;
        Ok((functions, function, qualifier))
    }

    /// `$LATEST` of the function `input` names, for the operations that change it (a
    /// qualifier other than `$LATEST` names nothing they can change).
    fn latest(&self, input: &str) -> Result<(Functions, Function), ApiError> {
        let (functions, name, qualifier) = self.name(input)?;
        if let Some(q) = qualifier.as_deref()
            && q != LATEST
        {
            return Err(api_error(functions.not_found(&name, Some(q))));
        }
        let function = functions.get(&name).map_err(api_error)?;
        Ok((functions, function))
    }

    /// The function name of `input`, whatever qualifier it carries (versions and aliases are
    /// managed through the function), and its region's view.
    fn unqualified(&self, input: &str) -> Result<(Functions, String), ApiError> {
        self.name(input)
            .map(|(functions, name, _)| (functions, name))
    }
}

/// The functions of the region the request being served was signed for (`functions`' when it
/// is unsigned), as AWS's regional endpoints serve them.
pub(crate) fn regional(functions: &Functions) -> Functions {
    match sluice_api::gateway::signed_region() {
        Some(region) => functions.in_region(&region),
        None => functions.clone(),
    }
}

/// The functions of the region `named` lives in: a full ARN's, else the request's
/// ([`regional`]).
pub(crate) fn functions_of(functions: &Functions, named: &FunctionName) -> Functions {
    match &named.region {
        Some(_) => functions.of(named),
        None => regional(functions),
    }
}

/// `function`'s configuration with its unqualified ARN (`$LATEST` as created or updated), in
/// the region of `functions`.
fn configuration(functions: &Functions, function: &Function) -> FunctionConfiguration {
    configuration_as(functions, function, None)
}

/// `function`'s configuration, its ARN qualified with `qualifier` when given (the version,
/// `$LATEST`, or the alias that named it), in the region of `functions`.
fn configuration_as(
    functions: &Functions,
    function: &Function,
    qualifier: Option<&str>,
) -> FunctionConfiguration {
    let arn = match qualifier {
        Some(q) => functions.scope().qualified_arn(&function.name, q),
        None => functions.arn(&function.name),
    };
    FunctionConfiguration {
        function_name: Some(function.name.clone()),
        function_arn: Some(arn),
        runtime: Some(function.runtime.clone()),
        role: Some(function.role.clone()),
        handler: function.handler.clone(),
        code_size: Some(function.code_size as i64),
        description: Some(function.description.clone()),
        timeout: Some(function.timeout as i32),
        memory_size: Some(function.memory_size as i32),
        last_modified: Some(function.last_modified.clone()),
        code_sha256: Some(function.code_sha256.clone()),
        version: Some(function.version.clone()),
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

fn alias_configuration(functions: &Functions, name: &str, alias: &Alias) -> AliasConfiguration {
    AliasConfiguration {
        alias_arn: Some(functions.alias_arn(name, &alias.name)),
        name: Some(alias.name.clone()),
        function_version: Some(alias.function_version.clone()),
        description: Some(alias.description.clone()),
        routing_config: (!alias.routing.is_empty()).then(|| AliasRoutingConfiguration {
            additional_version_weights: Some(alias.routing.clone()),
        }),
        revision_id: Some(alias.revision_id.clone()),
    }
}

/// ListFunctions with `FunctionVersion=ALL`: every version of every function of the region of
/// `functions`, under qualified ARNs (the marker is the last one's).
fn list_all_versions(functions: &Functions, input: &ListFunctionsRequest) -> ListFunctionsResponse {
    let all: Vec<Function> = functions
        .list()
        .iter()
        .flat_map(|f| functions.versions(&f.name).unwrap_or_default())
        .collect();
    let arn = |f: &Function| functions.scope().qualified_arn(&f.name, &f.version);
    let (page, next_marker) = page(all, input.marker.as_deref(), input.max_items, arn);
    ListFunctionsResponse {
        functions: Some(
            page.iter()
                .map(|f| configuration_as(functions, f, Some(&f.version)))
                .collect(),
        ),
        next_marker,
    }
}

/// An event invoke config as AWS shows it: the qualified ARN, `LastModified` in epoch
/// seconds, the settings that were set, and both destination members (empty when unset).
fn event_invoke_config(
    functions: &Functions,
    name: &str,
    qualifier: &str,
    config: &EventInvokeConfig,
) -> FunctionEventInvokeConfig {
    FunctionEventInvokeConfig {
        last_modified: Some(config.last_modified_ms as f64 / 1000.0),
        function_arn: Some(functions.scope().qualified_arn(name, qualifier)),
        maximum_retry_attempts: config.maximum_retry_attempts.map(|n| n as i32),
        maximum_event_age_in_seconds: config.maximum_event_age_in_seconds.map(|n| n as i32),
        destination_config: Some(DestinationConfig {
            on_success: Some(OnSuccess {
                destination: config.on_success.clone(),
            }),
            on_failure: Some(OnFailure {
                destination: config.on_failure.clone(),
            }),
        }),
    }
}

/// Publishes a version of `name` off the async runtime (it writes and fsyncs).
async fn publish(
    functions: Functions,
    name: String,
    description: Option<String>,
    code_sha256: Option<String>,
    revision_id: Option<String>,
) -> Result<Function, ApiError> {
    tokio::task::spawn_blocking(move || {
        functions.publish_version(
            &name,
            description.as_deref(),
            code_sha256.as_deref(),
            revision_id.as_deref(),
        )
    })
    .await
    .map_err(|e| ApiError::internal(format!("publish: {e}")))?
    .map_err(api_error)
}

/// The path of Sluice's route that serves a version's deployment package
/// (`GET /sluice/functions/{name}/code?version=N&region=R`, `$LATEST` percent-encoded).
pub fn code_location_path(region: &str, name: &str, version: &str) -> String {
    let version = version.replace('$', "%24");
    format!("/sluice/functions/{name}/code?version={version}&region={region}")
}

/// One page of `items` (in order) of at most `max_items` (`PAGE_SIZE` by default) after the
/// item whose key is `marker`, and the marker of the next page.
fn page<T>(
    items: Vec<T>,
    marker: Option<&str>,
    max_items: Option<i32>,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let size = max_items.map_or(PAGE_SIZE, |n| (n.max(1) as usize).min(PAGE_SIZE));
    let start = match marker {
        Some(marker) => items
            .iter()
            .position(|item| key(item) == marker)
            .map_or(0, |i| i + 1),
        None => 0,
    };
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(size).collect();
    let next = (start + page.len() < total)
        .then(|| page.last().map(&key))
        .flatten();
    (page, next)
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

/// What a Put or Update of an event invoke config gives.
fn event_invoke_config_change(
    maximum_retry_attempts: Option<i32>,
    maximum_event_age_in_seconds: Option<i32>,
    destination_config: Option<&DestinationConfig>,
) -> EventInvokeConfigChange {
    EventInvokeConfigChange {
        maximum_retry_attempts: maximum_retry_attempts.map(i64::from),
        maximum_event_age_in_seconds: maximum_event_age_in_seconds.map(i64::from),
        destination_config: destination_config.map(|d| DestinationChange {
            on_success: d.on_success.as_ref().map(|s| s.destination.clone()),
            on_failure: d.on_failure.as_ref().map(|f| f.destination.clone()),
        }),
    }
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
        let (functions, name, qualifier) = self.name(&input.function_name)?;
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
        let zip = self
            .zip(
                code.zip_file.as_deref(),
                (code.s3_bucket.as_deref(), code.s3_key.as_deref()),
                code.image_uri.is_some(),
            )
            .await?;
        let settings = Settings {
            runtime: input.runtime.clone(),
            handler: input.handler.clone(),
            role: Some(input.role.clone()),
            description: input.description.clone(),
            timeout: input.timeout.map(i64::from),
            memory_size: input.memory_size.map(i64::from),
            environment: environment(input.environment.as_ref()),
        };
        let region = functions.clone();
        let publish = input.publish == Some(true);
        let function = tokio::task::spawn_blocking(move || {
            let function = region.create(&name, &settings, &zip)?;
            if publish {
                // As AWS answers: version 1, with the function's unqualified ARN.
                return region.publish_version(&name, None, None, None);
            }
            Ok(function)
        })
        .await
        .map_err(|e| ApiError::internal(format!("create: {e}")))?
        .map_err(api_error)?;
        Ok(configuration(&functions, &function))
    }

    async fn get_function(
        &self,
        input: GetFunctionRequest,
    ) -> Result<GetFunctionResponse, ApiError> {
        let (functions, function, qualifier) =
            self.function(&input.function_name, input.qualifier.as_deref())?;
        // Where AWS gives a presigned S3 URL: Sluice's own route for the version's package,
        // through the address the caller used (a request without a Host gets the path alone).
        let location = format!(
            "{}{}",
            request_endpoint().unwrap_or_default(),
            code_location_path(functions.region(), &function.name, &function.version)
        );
        let reserved = functions
            .get(&function.name)
            .map_err(api_error)?
            .reserved_concurrency;
        Ok(GetFunctionResponse {
            configuration: Some(configuration_as(
                &functions,
                &function,
                qualifier.as_deref(),
            )),
            code: Some(FunctionCodeLocation {
                repository_type: Some("S3".into()),
                location: Some(location),
                ..FunctionCodeLocation::default()
            }),
            concurrency: reserved.map(|n| Concurrency {
                reserved_concurrent_executions: Some(n as i32),
            }),
            ..GetFunctionResponse::default()
        })
    }

    async fn get_function_configuration(
        &self,
        input: GetFunctionConfigurationRequest,
    ) -> Result<FunctionConfiguration, ApiError> {
        let (functions, function, qualifier) =
            self.function(&input.function_name, input.qualifier.as_deref())?;
        Ok(configuration_as(
            &functions,
            &function,
            qualifier.as_deref(),
        ))
    }

    async fn list_functions(
        &self,
        input: ListFunctionsRequest,
    ) -> Result<ListFunctionsResponse, ApiError> {
        match input.function_version.as_deref() {
            None => {}
            Some("ALL") => return Ok(list_all_versions(&self.regional(), &input)),
            Some(other) => {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{other}' at 'functionVersion' failed \
                     to satisfy constraint: Member must satisfy enum value set: [ALL]"
                )));
            }
        }
        let size = input
            .max_items
            .map_or(PAGE_SIZE, |n| (n.max(1) as usize).min(PAGE_SIZE));
        let functions = self.regional();
        let all = functions.list();
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
            functions: Some(page.iter().map(|f| configuration(&functions, f)).collect()),
            next_marker,
        })
    }

    async fn delete_function(
        &self,
        input: DeleteFunctionRequest,
    ) -> Result<DeleteFunctionResponse, ApiError> {
        let (functions, name, qualifier) =
            self.qualified(&input.function_name, input.qualifier.as_deref())?;
        tokio::task::spawn_blocking(move || match qualifier {
            Some(q) => functions.delete_version(&name, &q),
            None => functions.delete(&name),
        })
        .await
        .map_err(|e| ApiError::internal(format!("delete: {e}")))?
        .map_err(api_error)?;
        // AWS answers 204, whatever the model's binding says.
        Ok(DeleteFunctionResponse {
            status_code: Some(204),
        })
    }

    async fn update_function_code(
        &self,
        input: UpdateFunctionCodeRequest,
    ) -> Result<FunctionConfiguration, ApiError> {
        let (functions, function) = self.latest(&input.function_name)?;
        if input
            .revision_id
            .as_ref()
            .is_some_and(|r| *r != function.revision_id)
        {
            return Err(precondition_failed());
        }
        let zip = self
            .zip(
                input.zip_file.as_deref(),
                (input.s3_bucket.as_deref(), input.s3_key.as_deref()),
                input.image_uri.is_some(),
            )
            .await?;
        if input.dry_run == Some(true) {
            sluice_functions::archive::check_zipped_size(zip.len() as u64).map_err(api_error)?;
            return Ok(configuration(&functions, &function));
        }
        let region = functions.clone();
        let publish = input.publish == Some(true);
        let function = tokio::task::spawn_blocking(move || {
            let function = region.update_code(&function.name, &zip)?;
            if publish {
                return region.publish_version(&function.name, None, None, None);
            }
            Ok(function)
        })
        .await
        .map_err(|e| ApiError::internal(format!("update: {e}")))?
        .map_err(api_error)?;
        // Published: the version, with its qualified ARN (as AWS answers).
        let qualifier = publish.then_some(function.version.as_str());
        Ok(configuration_as(&functions, &function, qualifier))
    }

    async fn update_function_configuration(
        &self,
        input: UpdateFunctionConfigurationRequest,
    ) -> Result<FunctionConfiguration, ApiError> {
        let (functions, function) = self.latest(&input.function_name)?;
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
        let function = functions
            .update_configuration(&function.name, &settings)
            .map_err(api_error)?;
        Ok(configuration(&functions, &function))
    }

    async fn invoke(&self, input: InvocationRequest) -> Result<InvocationResponse, ApiError> {
        let (functions, name, qualifier) =
            self.qualified(&input.function_name, input.qualifier.as_deref())?;
        let payload = input.payload.unwrap_or_default();
        let options = InvokeOptions {
            qualifier,
            client_context: input.client_context,
            idempotency_key: None,
        };
        let tail = input.log_type.as_deref() == Some("Tail");
        match input
            .invocation_type
            .as_deref()
            .unwrap_or("RequestResponse")
        {
            "DryRun" => {
                functions
                    .check_invocable(&name, options.qualifier.as_deref())
                    .map_err(api_error)?;
                Ok(InvocationResponse {
                    status_code: Some(204),
                    ..InvocationResponse::default()
                })
            }
            "Event" => {
                functions
                    .invoke_event(&name, payload, options)
                    .await
                    .map_err(api_error)?;
                Ok(InvocationResponse {
                    status_code: Some(202),
                    ..InvocationResponse::default()
                })
            }
            _ => {
                let invoked = functions
                    .invoke(&name, payload, options)
                    .await
                    .map_err(api_error)?;
                let log_result = tail.then(|| {
                    let logs = functions.logs(&name, &invoked.request_id);
                    // The last 4 KB, as AWS.
                    let start = logs.len().saturating_sub(4096);
                    let start = (start..logs.len())
                        .find(|i| logs.is_char_boundary(*i))
                        .unwrap_or(logs.len());
                    base64::engine::general_purpose::STANDARD.encode(&logs[start..])
                });
                Ok(InvocationResponse {
                    status_code: Some(200),
                    function_error: invoked.function_error.as_ref().map(|_| "Unhandled".into()),
                    executed_version: Some(invoked.executed_version),
                    log_result,
                    payload: Some(invoked.payload),
                    ..InvocationResponse::default()
                })
            }
        }
    }

    async fn put_function_concurrency(
        &self,
        input: PutFunctionConcurrencyRequest,
    ) -> Result<Concurrency, ApiError> {
        let (functions, function) = self.latest(&input.function_name)?;
        let reserved = u32::try_from(input.reserved_concurrent_executions).map_err(|_| {
            ApiError::validation(format!(
                "1 validation error detected: Value '{}' at 'reservedConcurrentExecutions' \
                 failed to satisfy constraint: Member must have value greater than or equal to 0",
                input.reserved_concurrent_executions
            ))
        })?;
        let function = functions
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
        let (_, function) = self.latest(&input.function_name)?;
        Ok(GetFunctionConcurrencyResponse {
            reserved_concurrent_executions: function.reserved_concurrency.map(|n| n as i32),
        })
    }

    async fn delete_function_concurrency(
        &self,
        input: DeleteFunctionConcurrencyRequest,
    ) -> Result<(), ApiError> {
        let (functions, function) = self.latest(&input.function_name)?;
        functions
            .set_reserved_concurrency(&function.name, None)
            .map_err(api_error)?;
        Ok(())
    }

    async fn publish_version(
        &self,
        input: PublishVersionRequest,
    ) -> Result<FunctionConfiguration, ApiError> {
        let (functions, name) = self.unqualified(&input.function_name)?;
        if let Some(to) = &input.publish_to {
            if sluice_api::lambda::model::FunctionVersionLatestPublished::from_name(to).is_none() {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{to}' at 'publishTo' failed to satisfy \
                     constraint: Member must satisfy enum value set: [LATEST_PUBLISHED]"
                )));
            }
            return Err(ApiError::new(
                "InvalidParameterValueException",
                "Sluice does not support PublishTo ($LATEST.PUBLISHED) yet",
            ));
        }
        let version = publish(
            functions.clone(),
            name,
            input.description,
            input.code_sha256,
            input.revision_id,
        )
        .await?;
        Ok(configuration_as(
            &functions,
            &version,
            Some(&version.version),
        ))
    }

    async fn list_versions_by_function(
        &self,
        input: ListVersionsByFunctionRequest,
    ) -> Result<ListVersionsByFunctionResponse, ApiError> {
        let (functions, name) = self.unqualified(&input.function_name)?;
        let versions = functions.versions(&name).map_err(api_error)?;
        let (page, next_marker) = page(
            versions,
            input.marker.as_deref(),
            input.max_items,
            |f: &Function| f.version.clone(),
        );
        let versions = page
            .iter()
            .map(|f| FunctionConfiguration {
                // What AWS leaves out of listings.
                state: None,
                last_update_status: None,
                ..configuration_as(&functions, f, Some(&f.version))
            })
            .collect();
        Ok(ListVersionsByFunctionResponse {
            next_marker,
            versions: Some(versions),
        })
    }

    async fn create_alias(
        &self,
        input: CreateAliasRequest,
    ) -> Result<AliasConfiguration, ApiError> {
        let (functions, name) = self.unqualified(&input.function_name)?;
        let routing = input
            .routing_config
            .as_ref()
            .and_then(|r| r.additional_version_weights.as_ref());
        let alias = functions
            .create_alias(
                &name,
                &input.name,
                &input.function_version,
                input.description.as_deref(),
                routing,
            )
            .map_err(api_error)?;
        Ok(alias_configuration(&functions, &name, &alias))
    }

    async fn get_alias(&self, input: GetAliasRequest) -> Result<AliasConfiguration, ApiError> {
        let (functions, name) = self.unqualified(&input.function_name)?;
        let alias = functions.get_alias(&name, &input.name).map_err(api_error)?;
        Ok(alias_configuration(&functions, &name, &alias))
    }

    async fn update_alias(
        &self,
        input: UpdateAliasRequest,
    ) -> Result<AliasConfiguration, ApiError> {
        let (functions, name) = self.unqualified(&input.function_name)?;
        let update = AliasUpdate {
            function_version: input.function_version,
            description: input.description,
            // `RoutingConfig: {}` or empty weights remove the routing.
            routing: input
                .routing_config
                .map(|r| r.additional_version_weights.unwrap_or_default()),
            revision_id: input.revision_id,
        };
        let alias = functions
            .update_alias(&name, &input.name, &update)
            .map_err(api_error)?;
        Ok(alias_configuration(&functions, &name, &alias))
    }

    async fn delete_alias(&self, input: DeleteAliasRequest) -> Result<(), ApiError> {
        let (functions, name) = self.unqualified(&input.function_name)?;
        functions
            .delete_alias(&name, &input.name)
            .map_err(api_error)
    }

    async fn list_aliases(
        &self,
        input: ListAliasesRequest,
    ) -> Result<ListAliasesResponse, ApiError> {
        let (functions, name) = self.unqualified(&input.function_name)?;
        let aliases = functions
            .aliases(&name, input.function_version.as_deref())
            .map_err(api_error)?;
        let (page, next_marker) = page(
            aliases,
            input.marker.as_deref(),
            input.max_items,
            |a: &Alias| a.name.clone(),
        );
        Ok(ListAliasesResponse {
            next_marker,
            aliases: Some(
                page.iter()
                    .map(|a| alias_configuration(&functions, &name, a))
                    .collect(),
            ),
        })
    }

    async fn put_function_event_invoke_config(
        &self,
        input: PutFunctionEventInvokeConfigRequest,
    ) -> Result<FunctionEventInvokeConfig, ApiError> {
        let change = event_invoke_config_change(
            input.maximum_retry_attempts,
            input.maximum_event_age_in_seconds,
            input.destination_config.as_ref(),
        );
        self.change_event_invoke_config(
            &input.function_name,
            input.qualifier.as_deref(),
            change,
            false,
        )
        .await
    }

    async fn update_function_event_invoke_config(
        &self,
        input: UpdateFunctionEventInvokeConfigRequest,
    ) -> Result<FunctionEventInvokeConfig, ApiError> {
        let change = event_invoke_config_change(
            input.maximum_retry_attempts,
            input.maximum_event_age_in_seconds,
            input.destination_config.as_ref(),
        );
        self.change_event_invoke_config(
            &input.function_name,
            input.qualifier.as_deref(),
            change,
            true,
        )
        .await
    }

    async fn get_function_event_invoke_config(
        &self,
        input: GetFunctionEventInvokeConfigRequest,
    ) -> Result<FunctionEventInvokeConfig, ApiError> {
        let (functions, name, qualifier) =
            self.qualified(&input.function_name, input.qualifier.as_deref())?;
        let (qualifier, config) = functions
            .event_invoke_config(&name, qualifier.as_deref())
            .map_err(api_error)?;
        Ok(event_invoke_config(&functions, &name, &qualifier, &config))
    }

    async fn delete_function_event_invoke_config(
        &self,
        input: DeleteFunctionEventInvokeConfigRequest,
    ) -> Result<(), ApiError> {
        let (functions, name, qualifier) =
            self.qualified(&input.function_name, input.qualifier.as_deref())?;
        tokio::task::spawn_blocking(move || {
            functions.delete_event_invoke_config(&name, qualifier.as_deref())
        })
        .await
        .map_err(|e| ApiError::internal(format!("delete event invoke config: {e}")))?
        .map_err(api_error)
    }

    async fn list_function_event_invoke_configs(
        &self,
        input: ListFunctionEventInvokeConfigsRequest,
    ) -> Result<ListFunctionEventInvokeConfigsResponse, ApiError> {
        let (functions, name) = self.unqualified(&input.function_name)?;
        let configs = functions.event_invoke_configs(&name).map_err(api_error)?;
        let (page, next_marker) = page(
            configs,
            input.marker.as_deref(),
            input.max_items,
            |(qualifier, _): &(String, EventInvokeConfig)| qualifier.clone(),
        );
        Ok(ListFunctionEventInvokeConfigsResponse {
            function_event_invoke_configs: Some(
                page.iter()
                    .map(|(qualifier, config)| {
                        event_invoke_config(&functions, &name, qualifier, config)
                    })
                    .collect(),
            ),
            next_marker,
        })
    }

    async fn create_event_source_mapping(
        &self,
        input: CreateEventSourceMappingRequest,
    ) -> Result<EventSourceMappingConfiguration, ApiError> {
        self.mappings("CreateEventSourceMapping")?
            .create(input)
            .await
    }

    async fn get_event_source_mapping(
        &self,
        input: GetEventSourceMappingRequest,
    ) -> Result<EventSourceMappingConfiguration, ApiError> {
        self.mappings("GetEventSourceMapping")?.get(&input)
    }

    async fn update_event_source_mapping(
        &self,
        input: UpdateEventSourceMappingRequest,
    ) -> Result<EventSourceMappingConfiguration, ApiError> {
        self.mappings("UpdateEventSourceMapping")?
            .update(input)
            .await
    }

    async fn delete_event_source_mapping(
        &self,
        input: DeleteEventSourceMappingRequest,
    ) -> Result<EventSourceMappingConfiguration, ApiError> {
        self.mappings("DeleteEventSourceMapping")?
            .delete(&input)
            .await
    }

    async fn list_event_source_mappings(
        &self,
        input: ListEventSourceMappingsRequest,
    ) -> Result<ListEventSourceMappingsResponse, ApiError> {
        self.mappings("ListEventSourceMappings")?.list(&input)
    }
}

impl LambdaBackend {
    async fn change_event_invoke_config(
        &self,
        function_name: &str,
        qualifier: Option<&str>,
        change: EventInvokeConfigChange,
        update: bool,
    ) -> Result<FunctionEventInvokeConfig, ApiError> {
        let (functions, name, qualifier) = self.qualified(function_name, qualifier)?;
        let region = functions.clone();
        let target = name.clone();
        // Off the async runtime: the configs are written and fsynced.
        let (qualifier, config) = tokio::task::spawn_blocking(move || {
            let qualifier = qualifier.as_deref();
            if update {
                region.update_event_invoke_config(&target, qualifier, &change)
            } else {
                region.put_event_invoke_config(&target, qualifier, &change)
            }
        })
        .await
        .map_err(|e| ApiError::internal(format!("event invoke config: {e}")))?
        .map_err(api_error)?;
        Ok(event_invoke_config(&functions, &name, &qualifier, &config))
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
    use super::*;
    use serde_json::json;
    use sluice_api::gateway::signed_for;

    fn backend(name: &str) -> (LambdaBackend, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("sluice-lambda-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let functions = Functions::open(
            &dir,
            sluice_functions::Options::default(),
            sluice_functions::Scope::new("us-east-1", "000000000000"),
        )
        .unwrap();
        (LambdaBackend::new(functions), dir)
    }

    fn create_request(dir: &std::path::Path, name: &str) -> CreateFunctionRequest {
        let code = dir.join("code");
        std::fs::create_dir_all(&code).unwrap();
        std::fs::write(code.join("h.py"), "def handler(e, c): return e\n").unwrap();
        let zip = sluice_functions::archive::pack(&code).unwrap();
        serde_json::from_value(json!({
            "FunctionName": name,
            "Runtime": "python3.12",
            "Handler": "h.handler",
            "Role": "arn:aws:iam::000000000000:role/r",
            "Code": {"ZipFile": base64::engine::general_purpose::STANDARD.encode(zip)},
        }))
        .unwrap()
    }

    fn names(listed: &ListFunctionsResponse) -> Vec<(String, String)> {
        listed
            .functions
            .iter()
            .flatten()
            .map(|f| {
                (
                    f.function_name.clone().unwrap(),
                    f.function_arn.clone().unwrap(),
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn each_request_acts_in_the_region_it_was_signed_for() {
        let (lambda, dir) = backend("regions");
        // Unsigned: the configured region.
        let home = lambda
            .create_function(create_request(&dir, "f"))
            .await
            .unwrap();
        assert_eq!(
            home.function_arn.as_deref(),
            Some("arn:aws:lambda:us-east-1:000000000000:function:f")
        );
        let china = signed_for(
            "cn-northwest-1".into(),
            lambda.create_function(create_request(&dir, "f")),
        )
        .await
        .unwrap();
        assert_eq!(
            china.function_arn.as_deref(),
            Some("arn:aws-cn:lambda:cn-northwest-1:000000000000:function:f")
        );
        let west = "us-west-2".to_owned();
        let listed = signed_for(
            west.clone(),
            lambda.list_functions(ListFunctionsRequest::default()),
        )
        .await
        .unwrap();
        assert!(names(&listed).is_empty());
        let listed = signed_for(
            "cn-northwest-1".into(),
            lambda.list_functions(ListFunctionsRequest::default()),
        )
        .await
        .unwrap();
        assert_eq!(
            names(&listed),
            [(
                "f".to_owned(),
                "arn:aws-cn:lambda:cn-northwest-1:000000000000:function:f".to_owned()
            )]
        );
        // Not here: AWS's message names the function in the request's region.
        let get = |name: &str| GetFunctionConfigurationRequest {
            function_name: name.into(),
            ..GetFunctionConfigurationRequest::default()
        };
        let error = signed_for(west.clone(), lambda.get_function_configuration(get("f")))
            .await
            .unwrap_err();
        assert_eq!(error.kind, "ResourceNotFoundException");
        assert_eq!(
            error.message,
            "Function not found: arn:aws:lambda:us-west-2:000000000000:function:f"
        );
        // A full ARN names its own region, whichever the request was signed for.
        let found = signed_for(
            west.clone(),
            lambda.get_function_configuration(get(
                "arn:aws-cn:lambda:cn-northwest-1:000000000000:function:f",
            )),
        )
        .await
        .unwrap();
        assert_eq!(found.function_arn, china.function_arn);
        // Aliases and packages live in the function's region.
        let alias = signed_for(
            "cn-northwest-1".into(),
            lambda.create_alias(CreateAliasRequest {
                function_name: "f".into(),
                name: "live".into(),
                function_version: "$LATEST".into(),
                ..CreateAliasRequest::default()
            }),
        )
        .await
        .unwrap();
        assert_eq!(
            alias.alias_arn.as_deref(),
            Some("arn:aws-cn:lambda:cn-northwest-1:000000000000:function:f:live")
        );
        let got = signed_for(
            "cn-northwest-1".into(),
            lambda.get_function(GetFunctionRequest {
                function_name: "f".into(),
                ..GetFunctionRequest::default()
            }),
        )
        .await
        .unwrap();
        let location = got.code.unwrap().location.unwrap();
        assert!(location.ends_with("&region=cn-northwest-1"), "{location}");
        // Deleting one region's function leaves its namesakes.
        signed_for(
            "cn-northwest-1".into(),
            lambda.delete_function(DeleteFunctionRequest {
                function_name: "f".into(),
                ..DeleteFunctionRequest::default()
            }),
        )
        .await
        .unwrap();
        let listed = lambda
            .list_functions(ListFunctionsRequest::default())
            .await
            .unwrap();
        assert_eq!(names(&listed).len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sluice_functions_knows_every_runtime_of_the_model() {
        let model: Vec<&str> = sluice_api::lambda::model::Runtime::ALL
            .iter()
            .map(|r| r.as_str())
            .collect();
        assert_eq!(sluice_functions::function::RUNTIMES, model.as_slice());
    }
}
