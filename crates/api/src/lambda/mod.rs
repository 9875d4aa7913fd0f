//! The Lambda API (REST JSON, `restJson1`): `/2015-03-31/functions...` (functions, their
//! versions and aliases, invocations), the concurrency paths and the event invoke configs
//! (`/2019-09-25/functions/{name}/event-invoke-config`), on the same port as the AWS JSON services (REST requests carry no `X-Amz-Target`;
//! [`router`] merges into [`crate::router`]'s app).
//!
//! [`model`] is generated from AWS's model by `crates/api/codegen/generate.py`; the rest is
//! hand-written: routing on method and path, members from the URI, query string and headers,
//! the model's length and range limits (`ValidationException`, AWS's wording; `rules` adds the
//! configuration's patterns, enums and nested ranges the generated limits lack), and errors as
//! Lambda sends them: the name in `x-amzn-ErrorType` (which botocore reads first) and a body
//! `{"Type": "User", "Message"|"message": ...}` with the member casing each error has in the
//! model. What the operations mean is a [`Lambda`] backend's job.

pub mod model;
mod rules;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{ApiError, protocol};
use crate::http::{ERROR_TYPE_HEADER, REQUEST_ID_HEADER};
use crate::request_id;
use crate::shape::Violation;

use self::model::{
    AliasConfiguration, Concurrency, Constraint, CreateAliasRequest, CreateFunctionRequest,
    DeleteAliasRequest, DeleteFunctionConcurrencyRequest, DeleteFunctionEventInvokeConfigRequest,
    DeleteFunctionRequest, FunctionConfiguration, FunctionEventInvokeConfig, GetAliasRequest,
    GetFunctionConcurrencyRequest, GetFunctionConcurrencyResponse, GetFunctionConfigurationRequest,
    GetFunctionEventInvokeConfigRequest, GetFunctionRequest, GetFunctionResponse,
    InvocationRequest, ListAliasesRequest, ListAliasesResponse,
    ListFunctionEventInvokeConfigsRequest, ListFunctionEventInvokeConfigsResponse,
    ListFunctionsRequest, ListFunctionsResponse, ListVersionsByFunctionRequest,
    ListVersionsByFunctionResponse, PublishVersionRequest, PutFunctionConcurrencyRequest,
    PutFunctionEventInvokeConfigRequest, UpdateAliasRequest, UpdateFunctionCodeRequest,
    UpdateFunctionConfigurationRequest, UpdateFunctionEventInvokeConfigRequest, constraints,
    errors,
};

/// The largest request body: AWS's limit for CreateFunction (a 50 MB zip, base64 in JSON).
pub const MAX_BODY_BYTES: usize = 70_167_211;

/// The outcome of Invoke, as it goes on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// 200 (RequestResponse), 202 (Event), 204 (DryRun).
    pub status: u16,
    /// `X-Amz-Function-Error` (`Unhandled`).
    pub function_error: Option<String>,
    /// `X-Amz-Executed-Version`.
    pub executed_version: Option<String>,
    /// `X-Amz-Log-Result` (base64 of the log's last 4 KB).
    pub log_result: Option<String>,
    pub payload: Bytes,
}

/// What the Lambda API needs from a functions service: one method per served operation.
/// Inputs arrive with their URI, query and header members filled in and checked against the
/// model's limits.
pub trait Lambda: Send + Sync + 'static {
    fn create_function(
        &self,
        input: CreateFunctionRequest,
    ) -> impl Future<Output = Result<FunctionConfiguration, ApiError>> + Send;
    /// `endpoint`: the base URL the request was sent to (`http://` and its `Host`), where
    /// `Code.Location` can point so that the package downloads through the same address.
    fn get_function(
        &self,
        input: GetFunctionRequest,
        endpoint: Option<String>,
    ) -> impl Future<Output = Result<GetFunctionResponse, ApiError>> + Send;
    fn get_function_configuration(
        &self,
        input: GetFunctionConfigurationRequest,
    ) -> impl Future<Output = Result<FunctionConfiguration, ApiError>> + Send;
    fn list_functions(
        &self,
        input: ListFunctionsRequest,
    ) -> impl Future<Output = Result<ListFunctionsResponse, ApiError>> + Send;
    fn delete_function(
        &self,
        input: DeleteFunctionRequest,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn update_function_code(
        &self,
        input: UpdateFunctionCodeRequest,
    ) -> impl Future<Output = Result<FunctionConfiguration, ApiError>> + Send;
    fn update_function_configuration(
        &self,
        input: UpdateFunctionConfigurationRequest,
    ) -> impl Future<Output = Result<FunctionConfiguration, ApiError>> + Send;
    fn invoke(
        &self,
        input: InvocationRequest,
        payload: Bytes,
    ) -> impl Future<Output = Result<Invocation, ApiError>> + Send;
    fn put_function_concurrency(
        &self,
        input: PutFunctionConcurrencyRequest,
    ) -> impl Future<Output = Result<Concurrency, ApiError>> + Send;
    fn get_function_concurrency(
        &self,
        input: GetFunctionConcurrencyRequest,
    ) -> impl Future<Output = Result<GetFunctionConcurrencyResponse, ApiError>> + Send;
    fn delete_function_concurrency(
        &self,
        input: DeleteFunctionConcurrencyRequest,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn publish_version(
        &self,
        input: PublishVersionRequest,
    ) -> impl Future<Output = Result<FunctionConfiguration, ApiError>> + Send;
    fn list_versions_by_function(
        &self,
        input: ListVersionsByFunctionRequest,
    ) -> impl Future<Output = Result<ListVersionsByFunctionResponse, ApiError>> + Send;
    fn create_alias(
        &self,
        input: CreateAliasRequest,
    ) -> impl Future<Output = Result<AliasConfiguration, ApiError>> + Send;
    fn get_alias(
        &self,
        input: GetAliasRequest,
    ) -> impl Future<Output = Result<AliasConfiguration, ApiError>> + Send;
    fn update_alias(
        &self,
        input: UpdateAliasRequest,
    ) -> impl Future<Output = Result<AliasConfiguration, ApiError>> + Send;
    fn delete_alias(
        &self,
        input: DeleteAliasRequest,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn list_aliases(
        &self,
        input: ListAliasesRequest,
    ) -> impl Future<Output = Result<ListAliasesResponse, ApiError>> + Send;
    fn put_function_event_invoke_config(
        &self,
        input: PutFunctionEventInvokeConfigRequest,
    ) -> impl Future<Output = Result<FunctionEventInvokeConfig, ApiError>> + Send;
    fn update_function_event_invoke_config(
        &self,
        input: UpdateFunctionEventInvokeConfigRequest,
    ) -> impl Future<Output = Result<FunctionEventInvokeConfig, ApiError>> + Send;
    fn get_function_event_invoke_config(
        &self,
        input: GetFunctionEventInvokeConfigRequest,
    ) -> impl Future<Output = Result<FunctionEventInvokeConfig, ApiError>> + Send;
    fn delete_function_event_invoke_config(
        &self,
        input: DeleteFunctionEventInvokeConfigRequest,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn list_function_event_invoke_configs(
        &self,
        input: ListFunctionEventInvokeConfigsRequest,
    ) -> impl Future<Output = Result<ListFunctionEventInvokeConfigsResponse, ApiError>> + Send;
}

/// The Lambda API's routes over `backend`.
pub fn router<B: Lambda>(backend: Arc<B>) -> Router {
    Router::new()
        .route(
            "/2015-03-31/functions",
            post(create_function::<B>).get(list_functions::<B>),
        )
        .route("/2015-03-31/functions/", get(list_functions::<B>))
        .route(
            "/2015-03-31/functions/{name}",
            get(get_function::<B>).delete(delete_function::<B>),
        )
        .route(
            "/2015-03-31/functions/{name}/configuration",
            get(get_function_configuration::<B>).put(update_function_configuration::<B>),
        )
        .route(
            "/2015-03-31/functions/{name}/code",
            put(update_function_code::<B>),
        )
        .route(
            "/2015-03-31/functions/{name}/invocations",
            post(invoke::<B>),
        )
        .route(
            "/2015-03-31/functions/{name}/versions",
            post(publish_version::<B>).get(list_versions_by_function::<B>),
        )
        .route(
            "/2015-03-31/functions/{name}/aliases",
            post(create_alias::<B>).get(list_aliases::<B>),
        )
        .route(
            "/2015-03-31/functions/{name}/aliases/{alias}",
            get(get_alias::<B>)
                .put(update_alias::<B>)
                .delete(delete_alias::<B>),
        )
        .route(
            "/2017-10-31/functions/{name}/concurrency",
            put(put_function_concurrency::<B>).delete(delete_function_concurrency::<B>),
        )
        .route(
            "/2019-09-30/functions/{name}/concurrency",
            get(get_function_concurrency::<B>),
        )
        .route(
            "/2019-09-25/functions/{name}/event-invoke-config",
            put(put_function_event_invoke_config::<B>)
                .post(update_function_event_invoke_config::<B>)
                .get(get_function_event_invoke_config::<B>)
                .delete(delete_function_event_invoke_config::<B>),
        )
        .route(
            "/2019-09-25/functions/{name}/event-invoke-config/list",
            get(list_function_event_invoke_configs::<B>),
        )
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(backend)
}

type Backend<B> = State<Arc<B>>;

async fn create_function<B: Lambda>(State(b): Backend<B>, request: Request) -> Response {
    respond(201, async {
        let body = read_json(request).await?;
        let input: CreateFunctionRequest = decode(body, constraints::CREATE_FUNCTION)?;
        b.create_function(input).await
    })
    .await
}

async fn list_functions<B: Lambda>(State(b): Backend<B>, uri: Uri) -> Response {
    respond(200, async {
        let query = query(uri.query());
        let mut members = Map::new();
        for key in ["MasterRegion", "FunctionVersion", "Marker"] {
            if let Some(value) = find(&query, key) {
                members.insert(key.into(), Value::String(value.into()));
            }
        }
        if let Some(value) = find(&query, "MaxItems") {
            members.insert("MaxItems".into(), integer("maxItems", value)?);
        }
        check(&members, constraints::LIST_FUNCTIONS)?;
        let input = ListFunctionsRequest {
            master_region: string(&members, "MasterRegion"),
            function_version: string(&members, "FunctionVersion"),
            marker: string(&members, "Marker"),
            max_items: members
                .get("MaxItems")
                .and_then(Value::as_i64)
                .map(|v| v as i32),
        };
        b.list_functions(input).await
    })
    .await
}

async fn get_function<B: Lambda>(
    State(b): Backend<B>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    respond(200, async {
        let qualifier = qualifier(&uri, constraints::GET_FUNCTION, &name)?;
        let endpoint = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty() && !h.contains(['/', '?', '#', '@', ' ']))
            .map(|host| format!("http://{host}"));
        b.get_function(
            GetFunctionRequest {
                function_name: name,
                qualifier,
            },
            endpoint,
        )
        .await
    })
    .await
}

async fn get_function_configuration<B: Lambda>(
    State(b): Backend<B>,
    Path(name): Path<String>,
    uri: Uri,
) -> Response {
    respond(200, async {
        let qualifier = qualifier(&uri, constraints::GET_FUNCTION_CONFIGURATION, &name)?;
        b.get_function_configuration(GetFunctionConfigurationRequest {
            function_name: name,
            qualifier,
        })
        .await
    })
    .await
}

async fn delete_function<B: Lambda>(
    State(b): Backend<B>,
    Path(name): Path<String>,
    uri: Uri,
) -> Response {
    respond_empty(async {
        let qualifier = qualifier(&uri, constraints::DELETE_FUNCTION, &name)?;
        b.delete_function(DeleteFunctionRequest {
            function_name: name,
            qualifier,
        })
        .await
    })
    .await
}

async fn update_function_code<B: Lambda>(
    State(b): Backend<B>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    respond(200, async {
        let mut body = read_json(request).await?;
        body.insert("FunctionName".into(), Value::String(name.clone()));
        let mut input: UpdateFunctionCodeRequest = decode(body, constraints::UPDATE_FUNCTION_CODE)?;
        input.function_name = name;
        b.update_function_code(input).await
    })
    .await
}

async fn update_function_configuration<B: Lambda>(
    State(b): Backend<B>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    respond(200, async {
        let mut body = read_json(request).await?;
        body.insert("FunctionName".into(), Value::String(name.clone()));
        let mut input: UpdateFunctionConfigurationRequest =
            decode(body, constraints::UPDATE_FUNCTION_CONFIGURATION)?;
        input.function_name = name;
        b.update_function_configuration(input).await
    })
    .await
}

async fn put_function_concurrency<B: Lambda>(
    State(b): Backend<B>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    respond(200, async {
        let mut body = read_json(request).await?;
        body.insert("FunctionName".into(), Value::String(name.clone()));
        let mut input: PutFunctionConcurrencyRequest =
            decode(body, constraints::PUT_FUNCTION_CONCURRENCY)?;
        input.function_name = name;
        b.put_function_concurrency(input).await
    })
    .await
}

async fn get_function_concurrency<B: Lambda>(
    State(b): Backend<B>,
    Path(name): Path<String>,
) -> Response {
    respond(200, async {
        check_name(&name, constraints::GET_FUNCTION_CONCURRENCY)?;
        b.get_function_concurrency(GetFunctionConcurrencyRequest {
            function_name: name,
        })
        .await
    })
    .await
}

async fn delete_function_concurrency<B: Lambda>(
    State(b): Backend<B>,
    Path(name): Path<String>,
) -> Response {
    respond_empty(async {
        check_name(&name, constraints::DELETE_FUNCTION_CONCURRENCY)?;
        b.delete_function_concurrency(DeleteFunctionConcurrencyRequest {
            function_name: name,
        })
        .await
    })
    .await
}

async fn publish_version<B: Lambda>(
    State(b): Backend<B>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    respond(201, async {
        let mut body = read_json(request).await?;
        body.insert("FunctionName".into(), Value::String(name.clone()));
        let mut input: PublishVersionRequest = decode(body, constraints::PUBLISH_VERSION)?;
        input.function_name = name;
        b.publish_version(input).await
    })
    .await
}

async fn list_versions_by_function<B: Lambda>(
    State(b): Backend<B>,
    Path(name): Path<String>,
    uri: Uri,
) -> Response {
    respond(200, async {
        let members = listing(&uri, &name, &["Marker"])?;
        check(&members, constraints::LIST_VERSIONS_BY_FUNCTION)?;
        b.list_versions_by_function(ListVersionsByFunctionRequest {
            function_name: name,
            marker: string(&members, "Marker"),
            max_items: max_items(&members),
        })
        .await
    })
    .await
}

async fn create_alias<B: Lambda>(
    State(b): Backend<B>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    respond(201, async {
        let mut body = read_json(request).await?;
        body.insert("FunctionName".into(), Value::String(name.clone()));
        let mut input: CreateAliasRequest = decode(body, constraints::CREATE_ALIAS)?;
        input.function_name = name;
        b.create_alias(input).await
    })
    .await
}

async fn get_alias<B: Lambda>(
    State(b): Backend<B>,
    Path((name, alias)): Path<(String, String)>,
) -> Response {
    respond(200, async {
        check(&alias_members(&name, &alias), constraints::GET_ALIAS)?;
        b.get_alias(GetAliasRequest {
            function_name: name,
            name: alias,
        })
        .await
    })
    .await
}

async fn update_alias<B: Lambda>(
    State(b): Backend<B>,
    Path((name, alias)): Path<(String, String)>,
    request: Request,
) -> Response {
    respond(200, async {
        let mut body = read_json(request).await?;
        body.extend(alias_members(&name, &alias));
        let mut input: UpdateAliasRequest = decode(body, constraints::UPDATE_ALIAS)?;
        input.function_name = name;
        input.name = alias;
        b.update_alias(input).await
    })
    .await
}

async fn delete_alias<B: Lambda>(
    State(b): Backend<B>,
    Path((name, alias)): Path<(String, String)>,
) -> Response {
    respond_empty(async {
        check(&alias_members(&name, &alias), constraints::DELETE_ALIAS)?;
        b.delete_alias(DeleteAliasRequest {
            function_name: name,
            name: alias,
        })
        .await
    })
    .await
}

async fn list_aliases<B: Lambda>(
    State(b): Backend<B>,
    Path(name): Path<String>,
    uri: Uri,
) -> Response {
    respond(200, async {
        let members = listing(&uri, &name, &["FunctionVersion", "Marker"])?;
        check(&members, constraints::LIST_ALIASES)?;
        b.list_aliases(ListAliasesRequest {
            function_name: name,
            function_version: string(&members, "FunctionVersion"),
            marker: string(&members, "Marker"),
            max_items: max_items(&members),
        })
        .await
    })
    .await
}

async fn put_function_event_invoke_config<B: Lambda>(
    State(b): Backend<B>,
    Path(name): Path<String>,
    uri: Uri,
    request: Request,
) -> Response {
    respond(200, async {
        let (body, qualifier) = event_invoke_config_body(&name, &uri, request).await?;
        let mut input: PutFunctionEventInvokeConfigRequest =
            decode(body, constraints::PUT_FUNCTION_EVENT_INVOKE_CONFIG)?;
        input.function_name = name;
        input.qualifier = qualifier;
        b.put_function_event_invoke_config(input).await
    })
    .await
}

async fn update_function_event_invoke_config<B: Lambda>(
    State(b): Backend<B>,
    Path(name): Path<String>,
    uri: Uri,
    request: Request,
) -> Response {
    respond(200, async {
        let (body, qualifier) = event_invoke_config_body(&name, &uri, request).await?;
        let mut input: UpdateFunctionEventInvokeConfigRequest =
            decode(body, constraints::UPDATE_FUNCTION_EVENT_INVOKE_CONFIG)?;
        input.function_name = name;
        input.qualifier = qualifier;
        b.update_function_event_invoke_config(input).await
    })
    .await
}

/// The body of a Put or Update of an event invoke config, with the URI's `FunctionName` and
/// the query's `Qualifier` added (so that their limits are checked with the body's), and the
/// qualifier.
async fn event_invoke_config_body(
    name: &str,
    uri: &Uri,
    request: Request,
) -> Result<(Map<String, Value>, Option<String>), ApiError> {
    let query = query(uri.query());
    let qualifier = find(&query, "Qualifier").map(str::to_owned);
    let mut body = read_json(request).await?;
    body.insert("FunctionName".into(), Value::String(name.into()));
    if let Some(q) = &qualifier {
        body.insert("Qualifier".into(), Value::String(q.clone()));
    }
    Ok((body, qualifier))
}

async fn get_function_event_invoke_config<B: Lambda>(
    State(b): Backend<B>,
    Path(name): Path<String>,
    uri: Uri,
) -> Response {
    respond(200, async {
        let qualifier = qualifier(&uri, constraints::GET_FUNCTION_EVENT_INVOKE_CONFIG, &name)?;
        b.get_function_event_invoke_config(GetFunctionEventInvokeConfigRequest {
            function_name: name,
            qualifier,
        })
        .await
    })
    .await
}

async fn delete_function_event_invoke_config<B: Lambda>(
    State(b): Backend<B>,
    Path(name): Path<String>,
    uri: Uri,
) -> Response {
    respond_empty(async {
        let qualifier = qualifier(
            &uri,
            constraints::DELETE_FUNCTION_EVENT_INVOKE_CONFIG,
            &name,
        )?;
        b.delete_function_event_invoke_config(DeleteFunctionEventInvokeConfigRequest {
            function_name: name,
            qualifier,
        })
        .await
    })
    .await
}

async fn list_function_event_invoke_configs<B: Lambda>(
    State(b): Backend<B>,
    Path(name): Path<String>,
    uri: Uri,
) -> Response {
    respond(200, async {
        let members = listing(&uri, &name, &["Marker"])?;
        check(&members, constraints::LIST_FUNCTION_EVENT_INVOKE_CONFIGS)?;
        b.list_function_event_invoke_configs(ListFunctionEventInvokeConfigsRequest {
            function_name: name,
            marker: string(&members, "Marker"),
            max_items: max_items(&members),
        })
        .await
    })
    .await
}

/// The members of a listing of `name`'s versions or aliases: `FunctionName`, the query's
/// `strings` and `MaxItems`.
fn listing(uri: &Uri, name: &str, strings: &[&str]) -> Result<Map<String, Value>, ApiError> {
    let query = query(uri.query());
    let mut members = Map::new();
    members.insert("FunctionName".into(), Value::String(name.into()));
    for key in strings {
        if let Some(value) = find(&query, key) {
            members.insert((*key).into(), Value::String(value.into()));
        }
    }
    if let Some(value) = find(&query, "MaxItems") {
        members.insert("MaxItems".into(), integer("maxItems", value)?);
    }
    Ok(members)
}

fn max_items(members: &Map<String, Value>) -> Option<i32> {
    members
        .get("MaxItems")
        .and_then(Value::as_i64)
        .map(|v| v as i32)
}

/// `FunctionName` and the alias's `Name`, from the URI.
fn alias_members(name: &str, alias: &str) -> Map<String, Value> {
    let mut members = Map::new();
    members.insert("FunctionName".into(), Value::String(name.into()));
    members.insert("Name".into(), Value::String(alias.into()));
    members
}

async fn invoke<B: Lambda>(
    State(b): Backend<B>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request_id = request_id::current();
    let result = async {
        let query = query(uri.query());
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let mut members = Map::new();
        members.insert("FunctionName".into(), Value::String(name.clone()));
        let qualifier = find(&query, "Qualifier").map(str::to_owned);
        if let Some(q) = &qualifier {
            members.insert("Qualifier".into(), Value::String(q.clone()));
        }
        check(&members, constraints::INVOKE)?;
        let invocation_type = header("x-amz-invocation-type");
        if let Some(t) = &invocation_type
            && !model::INVOCATION_TYPE_VALUES.contains(&t.as_str())
        {
            return Err(ApiError::violations(&[Violation {
                path: "invocationType".into(),
                value: Some(format!("'{t}'")),
                constraint: format!(
                    "Member must satisfy enum value set: [{}]",
                    model::INVOCATION_TYPE_VALUES.join(", ")
                ),
            }]));
        }
        let log_type = header("x-amz-log-type");
        if let Some(t) = &log_type
            && !model::LOG_TYPE_VALUES.contains(&t.as_str())
        {
            return Err(ApiError::violations(&[Violation {
                path: "logType".into(),
                value: Some(format!("'{t}'")),
                constraint: format!(
                    "Member must satisfy enum value set: [{}]",
                    model::LOG_TYPE_VALUES.join(", ")
                ),
            }]));
        }
        let payload = read_body(body).await?;
        let input = InvocationRequest {
            function_name: name,
            invocation_type,
            log_type,
            client_context: header("x-amz-client-context"),
            qualifier,
            tenant_id: header("x-amz-tenant-id"),
            ..InvocationRequest::default()
        };
        b.invoke(input, payload).await
    }
    .await;
    match result {
        Ok(invocation) => {
            let status = StatusCode::from_u16(invocation.status).unwrap_or(StatusCode::OK);
            let mut response = (status, invocation.payload).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            let mut put = |name: &'static str, value: Option<&str>| {
                if let Some(value) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
                    headers.insert(name, value);
                }
            };
            put("x-amz-function-error", invocation.function_error.as_deref());
            put(
                "x-amz-executed-version",
                invocation.executed_version.as_deref(),
            );
            put("x-amz-log-result", invocation.log_result.as_deref());
            put(REQUEST_ID_HEADER, Some(&request_id));
            response
        }
        Err(error) => error_response(&request_id, &error),
    }
}

// ---------------------------------------------------------------------------------------------
// Requests

async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|error| {
            let too_large = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            if too_large {
                ApiError::new(
                    protocol::REQUEST_ENTITY_TOO_LARGE,
                    format!(
                        "Request must be smaller than {MAX_BODY_BYTES} bytes for the operation"
                    ),
                )
                .with_status(413)
            } else {
                ApiError::serialization(format!("Cannot read the request body: {error}"))
            }
        })
}

async fn read_json(request: Request) -> Result<Map<String, Value>, ApiError> {
    let body = read_body(request.into_body()).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(&body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid_content("the body is not a JSON object")),
        Err(error) => Err(invalid_content(&error.to_string())),
    }
}

fn invalid_content(detail: &str) -> ApiError {
    ApiError::new(
        errors::INVALID_REQUEST_CONTENT_EXCEPTION.name,
        format!("Could not parse request body into json: {detail}"),
    )
}

/// Checks `body` against `limits`, then decodes it.
fn decode<T: DeserializeOwned>(
    body: Map<String, Value>,
    limits: &[Constraint],
) -> Result<T, ApiError> {
    check(&body, limits)?;
    serde_json::from_value(Value::Object(body)).map_err(|e| invalid_content(&e.to_string()))
}

/// The model's length and range limits, as `ValidationException`.
fn check(members: &Map<String, Value>, limits: &[Constraint]) -> Result<(), ApiError> {
    let mut violations = Vec::new();
    for limit in limits {
        let Some(value) = members.get(limit.member) else {
            continue;
        };
        let (measure, shown) = match value {
            // AWS counts UTF-16 code units, as its (Java) front end does.
            Value::String(s) if limit.length => (s.encode_utf16().count() as i64, format!("'{s}'")),
            Value::Array(a) if limit.length => {
                (a.len() as i64, format!("'{}'", rules::shown(value)))
            }
            Value::Object(o) if limit.length => (o.len() as i64, format!("'{value}'")),
            Value::Number(n) if !limit.length => match n.as_i64() {
                Some(n) => (n, format!("'{n}'")),
                None => continue,
            },
            _ => continue,
        };
        let what = if limit.length { "length" } else { "value" };
        if let Some(min) = limit.min
            && measure < min
        {
            violations.push(Violation {
                path: limit.wire.into(),
                value: Some(shown.clone()),
                constraint: format!("Member must have {what} greater than or equal to {min}"),
            });
        }
        if let Some(max) = limit.max
            && measure > max
        {
            violations.push(Violation {
                path: limit.wire.into(),
                value: Some(shown),
                constraint: format!("Member must have {what} less than or equal to {max}"),
            });
        }
    }
    violations.extend(rules::violations(members));
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ApiError::violations(&violations))
    }
}

fn check_name(name: &str, limits: &[Constraint]) -> Result<(), ApiError> {
    let mut members = Map::new();
    members.insert("FunctionName".into(), Value::String(name.into()));
    check(&members, limits)
}

/// The `Qualifier` query parameter, checked with the function name.
fn qualifier(uri: &Uri, limits: &[Constraint], name: &str) -> Result<Option<String>, ApiError> {
    let query = query(uri.query());
    let qualifier = find(&query, "Qualifier").map(str::to_owned);
    let mut members = Map::new();
    members.insert("FunctionName".into(), Value::String(name.into()));
    if let Some(q) = &qualifier {
        members.insert("Qualifier".into(), Value::String(q.clone()));
    }
    check(&members, limits)?;
    Ok(qualifier)
}

fn integer(wire: &str, value: &str) -> Result<Value, ApiError> {
    value.parse::<i64>().map(Value::from).map_err(|_| {
        ApiError::violations(&[Violation {
            path: wire.into(),
            value: Some(format!("'{value}'")),
            constraint: "Member must be an integer".into(),
        }])
    })
}

fn string(members: &Map<String, Value>, key: &str) -> Option<String> {
    members.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The decoded `key=value` pairs of a query string.
fn query(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn find<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Responses

async fn respond<T: Serialize>(
    status: u16,
    result: impl Future<Output = Result<T, ApiError>>,
) -> Response {
    let request_id = request_id::current();
    match result.await {
        Ok(output) => match serde_json::to_vec(&output) {
            Ok(body) => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
                let mut response = (status, body).into_response();
                set(
                    &mut response,
                    header::CONTENT_TYPE.as_str(),
                    "application/json",
                );
                set(&mut response, REQUEST_ID_HEADER, &request_id);
                response
            }
            Err(error) => error_response(
                &request_id,
                &ApiError::internal(format!("cannot serialize the response: {error}")),
            ),
        },
        Err(error) => error_response(&request_id, &error),
    }
}

async fn respond_empty(result: impl Future<Output = Result<(), ApiError>>) -> Response {
    let request_id = request_id::current();
    match result.await {
        Ok(()) => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            set(&mut response, REQUEST_ID_HEADER, &request_id);
            response
        }
        Err(error) => error_response(&request_id, &error),
    }
}

/// An error as Lambda sends it: `x-amzn-ErrorType`, and `{"Type": "User", "Message" |
/// "message": ..., ...fields}` (`Type` is `Service` for 5xx errors; `ValidationException`
/// has none).
pub fn error_response(request_id: &str, error: &ApiError) -> Response {
    let shape = errors::ALL.iter().find(|e| e.name == error.kind);
    let message_member = shape.map_or("message", |s| s.message_member);
    let mut body = Map::new();
    if error.kind != protocol::VALIDATION && error.kind != protocol::REQUEST_ENTITY_TOO_LARGE {
        let kind = if error.status >= 500 {
            "Service"
        } else {
            "User"
        };
        body.insert("Type".into(), Value::String(kind.into()));
    }
    body.insert(message_member.into(), Value::String(error.message.clone()));
    for (name, value) in &error.fields {
        body.insert(name.clone(), value.clone());
    }
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, Value::Object(body).to_string()).into_response();
    set(
        &mut response,
        header::CONTENT_TYPE.as_str(),
        "application/json",
    );
    set(&mut response, ERROR_TYPE_HEADER, &error.kind);
    set(&mut response, REQUEST_ID_HEADER, request_id);
    response
}

fn set(response: &mut Response, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (
        header::HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        response.headers_mut().insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode() {
        let q = query(Some("Qualifier=%24LATEST&Marker=a+b&MaxItems=5&x"));
        assert_eq!(find(&q, "Qualifier"), Some("$LATEST"));
        assert_eq!(find(&q, "Marker"), Some("a b"));
        assert_eq!(find(&q, "x"), Some(""));
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn limits_are_validation_exceptions_in_aws_words() {
        let mut body = Map::new();
        body.insert("FunctionName".into(), Value::String("x".repeat(141)));
        body.insert("Timeout".into(), Value::from(0));
        let error = check(&body, constraints::CREATE_FUNCTION).unwrap_err();
        assert_eq!(error.kind, "ValidationException");
        assert!(
            error
                .message
                .starts_with("2 validation errors detected: Value '"),
            "{}",
            error.message
        );
        assert!(
            error.message.contains(
                "at 'functionName' failed to satisfy constraint: Member must have length less \
                 than or equal to 140"
            ),
            "{}",
            error.message
        );
        assert!(
            error.message.contains(
                "Value '0' at 'timeout' failed to satisfy constraint: Member must have value \
                 greater than or equal to 1"
            ),
            "{}",
            error.message
        );
    }

    #[test]
    fn lengths_count_utf16_units() {
        // 71 characters are 142 UTF-16 units: over the limit of 140 only when counted as AWS does.
        let mut body = Map::new();
        body.insert("FunctionName".into(), Value::String("😀".repeat(71)));
        let error = check(&body, constraints::CREATE_FUNCTION).unwrap_err();
        assert!(
            error
                .message
                .contains("Member must have length less than or equal to 140"),
            "{}",
            error.message
        );
        body.insert("FunctionName".into(), Value::String("😀".repeat(70)));
        assert!(check(&body, constraints::CREATE_FUNCTION).is_ok());
    }

    #[test]
    fn errors_use_the_models_message_member() {
        let error =
            ApiError::new("ResourceNotFoundException", "Function not found: x").with_status(404);
        let response = error_response("r", &error);
        assert_eq!(response.status(), 404);
        assert_eq!(
            response.headers()[ERROR_TYPE_HEADER],
            "ResourceNotFoundException"
        );
        let error = ApiError::new("TooManyRequestsException", "Rate Exceeded.")
            .with_status(429)
            .with_field(
                "Reason",
                "ReservedFunctionConcurrentInvocationLimitExceeded",
            );
        assert_eq!(error_response("r", &error).status(), 429);
        assert_eq!(
            errors::RESOURCE_NOT_FOUND_EXCEPTION.message_member,
            "Message"
        );
        assert_eq!(
            errors::INVALID_PARAMETER_VALUE_EXCEPTION.message_member,
            "message"
        );
    }
}
