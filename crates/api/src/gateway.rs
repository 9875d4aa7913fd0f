//! [`Gateway`]: every service on one port. Each request is classified
//! ([`crate::classify::classify`]: service and protocol), then served by that service's router,
//! inside what every route shares:
//! - one request id per request, in the response (`x-amzn-RequestId`; S3's `x-amz-request-id`)
//!   and in every log line of the request ([`crate::request_id::current`]);
//! - a tracing span per request (request id, service, method, path);
//! - the region the client signed for ([`signed_region`]), so ARNs name the client's region;
//! - a panic becomes the protocol's 500 (`InternalFailure`, S3's `InternalError`), never a
//!   dropped connection;
//! - a path or operation no route knows, of a known service, answers in that protocol's error
//!   shape (`UnknownOperationException`, `InvalidAction`, S3's `NotImplemented`), never an
//!   empty 404 or 405.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt as _;
use tracing::Instrument as _;

use crate::classify::{Protocol, Route, Service, classify_signed};
use crate::error::ApiError;
use crate::http::{ERROR_TYPE_HEADER, REQUEST_ID_HEADER, catch_unwind};
use crate::request_id;

/// What the gateway knows of the request being served that the services' answers depend on.
#[derive(Debug, Clone, Default)]
struct Caller {
    region: Option<String>,
    /// The `Host` header (a cheap clone; the URL is formed only when asked for).
    host: Option<HeaderValue>,
    /// `X-Amzn-Trace-Id`, which services pass on (SNS to SQS as `AWSTraceHeader`).
    trace: Option<HeaderValue>,
}

tokio::task_local! {
    static CALLER: Caller;
}

/// The region the request being served was signed for (SigV4 credential scope), if any.
pub fn signed_region() -> Option<String> {
    CALLER.try_with(|c| c.region.clone()).ok().flatten()
}

/// Runs `future` as if it served a request signed for `region`: what a resource of that region
/// asks of the services in process (a state machine's SDK tasks) acts there, as its
/// [`signed_region`].
pub async fn signed_for<F: Future>(region: String, future: F) -> F::Output {
    let caller = Caller {
        region: Some(region),
        ..Caller::default()
    };
    CALLER.scope(caller, future).await
}

/// The base URL the request being served was sent to (`http://` and its `Host`), for URLs in
/// answers that the caller must be able to follow through the same address (Lambda's
/// `Code.Location`); `None` without a usable `Host`.
pub fn request_endpoint() -> Option<String> {
    let host = CALLER.try_with(|c| c.host.clone()).ok().flatten()?;
    let host = host.to_str().ok()?;
    (!host.is_empty() && !host.contains(['/', '?', '#', '@', ' ']))
        .then(|| format!("http://{host}"))
}

/// The X-Ray trace header of the request being served, if it has one.
pub fn request_trace_header() -> Option<String> {
    let trace = CALLER.try_with(|c| c.trace.clone()).ok().flatten()?;
    trace.to_str().ok().map(str::to_owned)
}

/// The X-Ray trace header a client sends.
const TRACE_HEADER: &str = "x-amzn-trace-id";

/// S3's request id header.
const S3_REQUEST_ID_HEADER: &str = "x-amz-request-id";

/// Routers by service, served on one port. See the module's documentation.
#[derive(Default)]
pub struct Gateway {
    /// Indexed by `Service as usize`.
    services: [Option<Router>; Service::ALL.len()],
}

impl Gateway {
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `service`'s requests with `router` (merged with any router given before).
    pub fn service(mut self, service: Service, router: Router) -> Self {
        let slot = &mut self.services[service as usize];
        *slot = Some(match slot.take() {
            Some(existing) => existing.merge(router),
            None => router,
        });
        self
    }

    /// The one service of the port (serve it with `axum::serve` through
    /// `axum::ServiceExt::into_make_service`). Every request is classified first, so the
    /// gateway is the service itself rather than a router's fallback: one routing per request,
    /// the service's own router's.
    pub fn into_service(self) -> GatewayService {
        GatewayService(Arc::new(self))
    }
}

/// [`Gateway::into_service`].
#[derive(Clone)]
pub struct GatewayService(Arc<Gateway>);

impl tower::Service<Request> for GatewayService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let gateway = Arc::clone(&self.0);
        Box::pin(async move { Ok(handle(&gateway, request).await) })
    }
}

async fn handle(gateway: &Gateway, request: Request) -> Response {
    let (route, region) = classify_signed(request.method(), request.uri(), request.headers());
    let caller = Caller {
        region,
        host: request.headers().get(header::HOST).cloned(),
        trace: request.headers().get(TRACE_HEADER).cloned(),
    };
    let request_id = request_id::uuid_v4();
    // Debug level: at the default info level every request would format and keep its
    // fields; errors log the request id themselves.
    let span = tracing::debug_span!(
        "request",
        request_id = %request_id,
        service = ?route.service,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let router = gateway.services[route.service as usize].clone();
    let served = async move {
        match router {
            Some(router) => {
                let response: Result<Response, Infallible> = router.oneshot(request).await;
                match response {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            }
            None => unknown_operation(route, &request),
        }
    };
    let id = request_id.clone();
    let served = CALLER.scope(caller, request_id::scope(id, catch_unwind(served)));
    let mut response = match served.instrument(span.clone()).await {
        Ok(response) => response,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            span.in_scope(|| {
                tracing::error!(%request_id, panic = %what, "request handler panicked");
            });
            internal_failure(route)
        }
    };
    if matches!(
        response.status(),
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
    ) && !response.headers().contains_key(ERROR_TYPE_HEADER)
        && route.service != Service::Sluice
        // S3's router answers every path itself; its 404s (a HEAD's are empty) are its own.
        && route.service != Service::S3
        && is_empty(&response)
    {
        response = route_not_found(route, response.status());
    }
    let id_header = match route.protocol {
        Protocol::RestXml => S3_REQUEST_ID_HEADER,
        _ => REQUEST_ID_HEADER,
    };
    if !response.headers().contains_key(id_header)
        && let Ok(value) = HeaderValue::from_str(&request_id)
    {
        response.headers_mut().insert(id_header, value);
    }
    response
}

fn is_empty(response: &Response) -> bool {
    use axum::body::HttpBody as _;
    response.body().size_hint().exact() == Some(0)
}

/// A known service's path or operation that no route serves.
fn route_not_found(route: Route, status: StatusCode) -> Response {
    match route.protocol {
        Protocol::RestJson1 => error(
            route.protocol,
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            "The requested operation is not supported by this service",
        ),
        Protocol::RestXml => error(
            route.protocol,
            if status == StatusCode::METHOD_NOT_ALLOWED {
                StatusCode::METHOD_NOT_ALLOWED
            } else {
                StatusCode::NOT_IMPLEMENTED
            },
            if status == StatusCode::METHOD_NOT_ALLOWED {
                "MethodNotAllowed"
            } else {
                "NotImplemented"
            },
            "A header you provided implies functionality that is not implemented.",
        ),
        _ => unknown_operation_response(route, None),
    }
}

/// A request for a service Sluice does not serve on this port.
fn unknown_operation(route: Route, request: &Request) -> Response {
    match route.protocol {
        Protocol::RestJson1 | Protocol::RestXml => route_not_found(route, StatusCode::NOT_FOUND),
        _ => {
            let action = request
                .uri()
                .query()
                .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("Action=")));
            unknown_operation_response(route, action)
        }
    }
}

/// The JSON protocols' `UnknownOperationException`, the query protocol's `InvalidAction`
/// (naming the action when the query string carries it).
fn unknown_operation_response(route: Route, action: Option<&str>) -> Response {
    match route.protocol {
        Protocol::AwsQuery => error(
            route.protocol,
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            &match action {
                Some(action) => format!("The action {action} is not valid for this web service."),
                None => "The action is not valid for this web service.".to_string(),
            },
        ),
        _ => error(
            route.protocol,
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            "",
        ),
    }
}

fn internal_failure(route: Route) -> Response {
    let code = match route.protocol {
        Protocol::RestXml => "InternalError",
        _ => "InternalFailure",
    };
    error(
        route.protocol,
        StatusCode::INTERNAL_SERVER_ERROR,
        code,
        "We encountered an internal error. Please try again.",
    )
}

/// An error response in `protocol`'s shape. The request id is added by the gateway.
pub fn error(protocol: Protocol, status: StatusCode, code: &str, message: &str) -> Response {
    let (content_type, body) = match protocol {
        Protocol::AwsJson1_0 | Protocol::AwsJson1_1 => {
            let mut body = serde_json::Map::new();
            body.insert("__type".into(), code.into());
            if !message.is_empty() {
                body.insert("message".into(), message.into());
            }
            let content_type = if protocol == Protocol::AwsJson1_0 {
                crate::http::AMZ_JSON_1_0
            } else {
                "application/x-amz-json-1.1"
            };
            (content_type, serde_json::Value::Object(body).to_string())
        }
        Protocol::RestJson1 => {
            let kind = if status.is_server_error() {
                "Service"
            } else {
                "User"
            };
            let body = serde_json::json!({ "Type": kind, "message": message });
            ("application/json", body.to_string())
        }
        Protocol::AwsQuery => {
            let error = ApiError::new(code, message).with_status(status.as_u16());
            let body = crate::query::encode_error(&error, &[], "", &request_id::current());
            (
                crate::query::CONTENT_TYPE,
                String::from_utf8_lossy(&body).into_owned(),
            )
        }
        Protocol::RestXml => {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{}</RequestId></Error>",
                xml_escape(code),
                xml_escape(message),
                request_id::current(),
            );
            ("application/xml", body)
        }
    };
    let mut response = (status, Body::from(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if matches!(
        protocol,
        Protocol::AwsJson1_0 | Protocol::AwsJson1_1 | Protocol::RestJson1
    ) && let Ok(value) = HeaderValue::from_str(code)
    {
        headers.insert(ERROR_TYPE_HEADER, value);
    }
    response
}

fn xml_escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

#[cfg(test)]
mod tests {
    use axum::routing::{get, post};

    use super::*;

    async fn call(
        router: &GatewayService,
        request: Request,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    fn gateway() -> GatewayService {
        let lambda = Router::new()
            .route("/2015-03-31/functions", get(|| async { "functions" }))
            .route(
                "/2015-03-31/functions/{name}/boom",
                get(|name: axum::extract::Path<String>| async move {
                    let members: Vec<&str> = name.0.split('.').collect();
                    // Out of bounds for a name without a dot: a handler bug.
                    members[1].to_string()
                }),
            );
        let sfn = Router::new().route(
            "/",
            post(|| async { (signed_region().unwrap_or_default(), request_id::current()).0 }),
        );
        Gateway::new()
            .service(Service::Lambda, lambda)
            .service(Service::StepFunctions, sfn)
            .into_service()
    }

    fn signed(method: &str, uri: &str, service: &str) -> axum::http::request::Builder {
        Request::builder().method(method).uri(uri).header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=A/20261207/eu-west-3/{service}/aws4_request, SignedHeaders=host"
            ),
        )
    }

    #[tokio::test]
    async fn in_process_calls_act_in_the_region_they_are_made_for() {
        assert_eq!(signed_region(), None);
        let region = signed_for("eu-west-1".into(), async { signed_region() }).await;
        assert_eq!(region.as_deref(), Some("eu-west-1"));
    }

    #[tokio::test]
    async fn every_response_has_a_request_id_and_the_signed_region_reaches_the_handler() {
        let router = gateway();
        let (status, headers, body) = call(
            &router,
            signed("POST", "/", "states")
                .header("x-amz-target", "AWSStepFunctions.ListStateMachines")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "eu-west-3");
        assert_eq!(headers[REQUEST_ID_HEADER].len(), 36);
        let (_, headers, _) = call(
            &router,
            Request::get("/2015-03-31/functions")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert!(headers.contains_key(REQUEST_ID_HEADER));
    }

    #[tokio::test]
    async fn a_panic_is_the_protocols_500() {
        let (status, headers, body) = call(
            &gateway(),
            Request::get("/2015-03-31/functions/f/boom")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(headers[ERROR_TYPE_HEADER], "InternalFailure");
        assert!(headers.contains_key(REQUEST_ID_HEADER));
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["Type"], "Service");
    }

    #[tokio::test]
    async fn unknown_routes_answer_in_their_protocols_shape() {
        let router = gateway();
        // REST-JSON: a Lambda path no route serves.
        let (status, headers, _) = call(
            &router,
            Request::get("/2015-03-31/functions/f/nothing-here")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(headers[ERROR_TYPE_HEADER], "UnknownOperationException");
        // Query: a service without routes.
        let (status, headers, body) = call(
            &router,
            signed("POST", "/", "sns")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from("Action=ListTopics&Version=2010-03-31"))
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("<Code>InvalidAction</Code>"), "{body}");
        assert!(body.contains("<Type>Sender</Type>"), "{body}");
        assert!(headers.contains_key(REQUEST_ID_HEADER));
        // AWS JSON: a target of a service without routes.
        let (status, headers, body) = call(
            &router,
            signed("POST", "/", "kinesis")
                .header("x-amz-target", "Kinesis_20131202.ListStreams")
                .header("content-type", "application/x-amz-json-1.1")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(headers[ERROR_TYPE_HEADER], "UnknownOperationException");
        assert_eq!(headers[header::CONTENT_TYPE], "application/x-amz-json-1.1");
        assert!(body.contains("UnknownOperationException"));
        // REST-XML: S3 is not served yet.
        let (status, headers, body) = call(
            &router,
            signed("GET", "/bucket/key", "s3")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
        assert!(body.starts_with("<?xml"), "{body}");
        assert!(body.contains("<Code>NotImplemented</Code>"), "{body}");
        assert!(headers.contains_key(S3_REQUEST_ID_HEADER));
    }

    #[test]
    fn every_service_has_its_own_slot() {
        for (i, service) in Service::ALL.into_iter().enumerate() {
            assert_eq!(service as usize, i, "{service:?}");
        }
    }

    #[test]
    fn xml_is_escaped() {
        assert_eq!(xml_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
    }
}
