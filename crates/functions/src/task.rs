//! What a Step Functions Task state sees of a function, as AWS shows it (recorded in
//! LocalStack's AWS snapshots of `lambda:invoke` and plain function ARNs):
//!
//! - a plain function ARN (`arn:aws:lambda:<region>:<account>:function:<name>[:qualifier]`)
//!   sends the state's effective input as the payload; the result is the function's payload;
//! - `arn:aws:states:::lambda:invoke` takes `FunctionName`, `Payload` (and `Qualifier`,
//!   `ClientContext`); the result is `{ExecutedVersion, Payload, SdkHttpMetadata,
//!   SdkResponseMetadata, StatusCode}`;
//! - either way a handler error fails the Task with the handler's `errorType` as the error and
//!   the error document (`errorMessage`, `errorType`, `requestId`, `stackTrace`) as the cause,
//!   so `Retry`/`Catch` match the handler's exception names;
//! - a Lambda service error fails it with `Lambda.<ErrorCode>` and the Java SDK's cause text
//!   (`Function not found: <arn>:$LATEST (Service: AWSLambda; Status Code: 404; Error Code:
//!   ResourceNotFoundException; Request ID: <id>; Proxy: null)`).
//!
//! Errors are `(error, cause)` pairs, so that this crate needs nothing of the engine's.

use serde_json::{Map, Value, json};
use sluice_types::Arn;

use crate::{Error, FunctionName, InvokeOptions, Invoked};

/// The optimized integration's resource.
pub const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";

/// The optimized integration, waiting for a callback: the function gets the task token in its
/// payload (`"Token.$": "$$.Task.Token"` in `Payload`) and the task ends with SendTaskSuccess or
/// SendTaskFailure.
pub const LAMBDA_INVOKE_WAIT: &str = "arn:aws:states:::lambda:invoke.waitForTaskToken";

/// A Task failure: the error name Retry/Catch match, and the cause.
pub type Failure = (String, String);

/// What a Task resource asks of functions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// A plain function ARN: the input is the payload, the output the result. The function
    /// lives in the ARN's region.
    Function(FunctionName),
    /// `arn:aws:states:::lambda:invoke`.
    Invoke,
    /// `arn:aws:states:::lambda:invoke.waitForTaskToken`: parameters and the invocation's result
    /// as [`Resource::Invoke`]'s, but the result only submits the task (`TaskSubmitted`); a
    /// handler error fails it.
    InvokeWaitForTaskToken,
}

impl Resource {
    /// The functions resource `resource` names, if it names one.
    pub fn parse(resource: &str) -> Option<Self> {
        if resource == LAMBDA_INVOKE {
            return Some(Self::Invoke);
        }
        if resource == LAMBDA_INVOKE_WAIT {
            return Some(Self::InvokeWaitForTaskToken);
        }
        // Only a full function ARN: a bare name is no Task resource.
        if Arn::parse(resource).is_err() {
            return None;
        }
        FunctionName::parse(resource).map(Self::Function)
    }

    /// Whether the task then waits for its callback (the invocation only submits it).
    pub fn waits_for_callback(&self) -> bool {
        matches!(self, Self::InvokeWaitForTaskToken)
    }
}

/// One invocation a Task asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The function's region when an ARN names it; `None`: the state machine's.
    pub region: Option<String>,
    pub name: String,
    pub payload: Vec<u8>,
    pub options: InvokeOptions,
}

impl Resource {
    /// The invocation for the Task's effective `input`, or the Task failure AWS gives for bad
    /// parameters.
    pub fn call(&self, input: &Value) -> Result<Call, Failure> {
        match self {
            Resource::Function(named) => Ok(Call {
                region: named.region.clone(),
                name: named.name.clone(),
                payload: serde_json::to_vec(input).unwrap_or_default(),
                options: InvokeOptions {
                    qualifier: named.qualifier.clone(),
                    ..InvokeOptions::default()
                },
            }),
            Resource::Invoke | Resource::InvokeWaitForTaskToken => {
                let parameters = input.as_object().cloned().unwrap_or_default();
                let function = parameters
                    .get("FunctionName")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        (
                            "States.Runtime".to_owned(),
                            "The Parameters of arn:aws:states:::lambda:invoke must have a \
                             FunctionName string"
                                .to_owned(),
                        )
                    })?;
                let Some(FunctionName {
                    region,
                    name,
                    mut qualifier,
                }) = FunctionName::parse(function)
                else {
                    return Err((
                        "Lambda.ValidationException".to_owned(),
                        format!(
                            "1 validation error detected: Value '{function}' at 'functionName' \
                             failed to satisfy constraint: Member must satisfy regular \
                             expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))? \
                             (Service: AWSLambda; Status Code: 400; Error Code: \
                             ValidationException; Request ID: {}; Proxy: null)",
                            crate::ids::uuid_v4()
                        ),
                    ));
                };
                if let Some(q) = parameters.get("Qualifier").and_then(Value::as_str) {
                    qualifier = Some(q.to_owned());
                }
                let payload = match parameters.get("Payload") {
                    None => b"{}".to_vec(),
                    Some(payload) => serde_json::to_vec(payload).unwrap_or_default(),
                };
                let client_context = parameters
                    .get("ClientContext")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                Ok(Call {
                    region,
                    name,
                    payload,
                    options: InvokeOptions {
                        qualifier,
                        client_context,
                        idempotency_key: None,
                    },
                })
            }
        }
    }

    /// The Task's result for a completed invocation, or its failure when the function failed.
    pub fn result(
        &self,
        invoked: &Invoked,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Value, Failure> {
        if let Some(error) = &invoked.function_error {
            return Err((
                error.clone(),
                String::from_utf8_lossy(&invoked.payload).into_owned(),
            ));
        }
        let payload = payload_value(&invoked.payload);
        Ok(match self {
            Resource::Function(_) => payload,
            Resource::Invoke | Resource::InvokeWaitForTaskToken => {
                invoke_result(invoked, payload, now)
            }
        })
    }
}

/// The idempotency key of one run of a Task (`<execution ARN>/<state name>/<TaskScheduled
/// event id>`): the same when the engine dispatches that run again (at-least-once, after a
/// restart), another for a retry. Handlers find it in the client context
/// ([`crate::IDEMPOTENCY_KEY`]).
pub fn idempotency_key(execution: &str, state: &str, scheduled_event_id: u64) -> String {
    format!("{execution}/{state}/{scheduled_event_id}")
}

/// The function's payload as JSON: parsed when it is JSON, else the text as a string.
pub fn payload_value(payload: &[u8]) -> Value {
    if payload.is_empty() {
        return Value::Null;
    }
    sluice_asl::json::parse_slice(payload)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(payload).into_owned()))
}

/// `lambda:invoke`'s result document, as AWS returns it.
fn invoke_result(invoked: &Invoked, payload: Value, now: chrono::DateTime<chrono::Utc>) -> Value {
    let date = now.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let trace = format!(
        "root={};lineage=00000000:0",
        crate::ids::trace_id(now.timestamp())
            .split(';')
            .next()
            .unwrap_or_default()
            .trim_start_matches("Root=")
    );
    let length = invoked.payload.len().to_string();
    let headers: [(&str, &str); 8] = [
        ("Connection", "keep-alive"),
        ("Content-Length", &length),
        ("Content-Type", "application/json"),
        ("Date", &date),
        ("X-Amz-Executed-Version", &invoked.executed_version),
        ("x-amzn-Remapped-Content-Length", "0"),
        ("x-amzn-RequestId", &invoked.request_id),
        ("X-Amzn-Trace-Id", &trace),
    ];
    let mut all = Map::new();
    let mut single = Map::new();
    for (name, value) in headers {
        all.insert(name.into(), json!([value]));
        single.insert(name.into(), json!(value));
    }
    json!({
        "ExecutedVersion": invoked.executed_version,
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": all,
            "HttpHeaders": single,
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": { "RequestId": invoked.request_id },
        "StatusCode": 200,
    })
}

/// The Task failure for a Lambda service error: `Lambda.<code>` and the Java SDK's text.
pub fn service_failure(error: &Error) -> Failure {
    (
        format!("Lambda.{}", error.code()),
        format!(
            "{error} (Service: AWSLambda; Status Code: {}; Error Code: {}; Request ID: {}; \
             Proxy: null)",
            error.status(),
            error.code(),
            crate::ids::uuid_v4()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Bytes;

    fn invoked(payload: &str, error: Option<&str>) -> Invoked {
        Invoked {
            request_id: "req-1".into(),
            payload: Bytes::from(payload.to_owned()),
            function_error: error.map(str::to_owned),
            executed_version: "$LATEST".into(),
        }
    }

    #[test]
    fn resources() {
        assert_eq!(Resource::parse(LAMBDA_INVOKE), Some(Resource::Invoke));
        assert_eq!(
            Resource::parse("arn:aws:lambda:us-east-1:000000000000:function:Check"),
            Some(Resource::Function(FunctionName {
                region: Some("us-east-1".into()),
                name: "Check".into(),
                qualifier: None
            }))
        );
        assert_eq!(Resource::parse("arn:aws:states:::sqs:sendMessage"), None);
        let wait = Resource::parse("arn:aws:states:::lambda:invoke.waitForTaskToken");
        assert_eq!(wait, Some(Resource::InvokeWaitForTaskToken));
        assert!(wait.unwrap().waits_for_callback() && !Resource::Invoke.waits_for_callback());
        assert_eq!(Resource::parse("arn:aws:states:::lambda:invoke.sync"), None);
    }

    #[test]
    fn invoke_parameters_and_result() {
        let call = Resource::Invoke
            .call(&json!({"FunctionName": "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST", "Payload": {"a": 1}}))
            .unwrap();
        assert_eq!(call.name, "f");
        assert_eq!(call.region.as_deref(), Some("us-east-1"));
        assert_eq!(call.options.qualifier.as_deref(), Some("$LATEST"));
        assert_eq!(call.payload, br#"{"a":1}"#);
        // A name alone: the state machine's region.
        let call = Resource::Invoke
            .call(&json!({"FunctionName": "f", "Qualifier": "live"}))
            .unwrap();
        assert_eq!((call.region, call.name.as_str()), (None, "f"));
        // A plain ARN of another region invokes there.
        let call = Resource::parse("arn:aws-cn:lambda:cn-northwest-1:000000000000:function:g:2")
            .unwrap()
            .call(&json!({}))
            .unwrap();
        assert_eq!(call.region.as_deref(), Some("cn-northwest-1"));
        assert_eq!(call.options.qualifier.as_deref(), Some("2"));
        let out = Resource::Invoke
            .result(&invoked(r#"{"ok":true}"#, None), chrono::Utc::now())
            .unwrap();
        let keys: Vec<&str> = out
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "ExecutedVersion",
                "Payload",
                "SdkHttpMetadata",
                "SdkResponseMetadata",
                "StatusCode"
            ]
        );
        assert_eq!(out["Payload"], json!({"ok": true}));
        assert_eq!(out["SdkResponseMetadata"]["RequestId"], "req-1");
        assert_eq!(
            out["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"],
            "11"
        );
        assert_eq!(
            out["SdkHttpMetadata"]["AllHttpHeaders"]["X-Amz-Executed-Version"],
            json!(["$LATEST"])
        );
        assert!(Resource::Invoke.call(&json!({"Payload": 1})).is_err());
    }

    #[test]
    fn handler_errors_are_task_failures_named_after_the_error_type() {
        let document = r#"{"errorMessage": "boom", "errorType": "AllNotificationsFailedException", "requestId": "r", "stackTrace": []}"#;
        let plain = Resource::Function(FunctionName {
            region: None,
            name: "f".into(),
            qualifier: None,
        });
        let (error, cause) = plain
            .result(
                &invoked(document, Some("AllNotificationsFailedException")),
                chrono::Utc::now(),
            )
            .unwrap_err();
        assert_eq!(error, "AllNotificationsFailedException");
        assert_eq!(cause, document);
        let (error, cause) = service_failure(&Error::NotFound {
            arn: "arn:aws:lambda:us-east-1:000000000000:function:nope:$LATEST".into(),
        });
        assert_eq!(error, "Lambda.ResourceNotFoundException");
        assert!(
            cause.starts_with(
                "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope:$LATEST \
                 (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; \
                 Request ID: "
            ),
            "{cause}"
        );
    }

    #[test]
    fn payloads_that_are_not_json_are_strings() {
        assert_eq!(payload_value(b"\"x\""), json!("x"));
        assert_eq!(payload_value(b"not json"), json!("not json"));
        assert_eq!(payload_value(b""), Value::Null);
    }
}
