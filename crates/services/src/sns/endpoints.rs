//! [`SnsEndpoints`]: where the broker's topic deliveries leave it — functions (an event
//! invocation, journaled by the functions before it is acknowledged) and HTTP endpoints (one
//! POST per delivery, 15 seconds at most, as SNS waits).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use axum::http::{Request, Uri, header};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use sluice_broker::topics::{Endpoints, HttpRequest};
use sluice_functions::{Functions, InvokeOptions};

/// How long an endpoint has to answer a delivery.
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

/// The endpoints a server's topics deliver to.
pub struct SnsEndpoints {
    functions: Functions,
}

impl SnsEndpoints {
    pub fn new(functions: Functions) -> Self {
        Self { functions }
    }
}

impl Endpoints for SnsEndpoints {
    fn invoke<'a>(
        &'a self,
        function_arn: &'a str,
        payload: String,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            // arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
            let mut parts = function_arn.split(':').skip(6);
            let name = parts.next().unwrap_or_default();
            let options = InvokeOptions {
                qualifier: parts.next().map(str::to_owned),
                ..InvokeOptions::default()
            };
            self.functions
                .invoke_event(name, Bytes::from(payload), options)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }

    fn post(
        &self,
        request: HttpRequest,
    ) -> Pin<Box<dyn Future<Output = Result<u16, String>> + Send + '_>> {
        Box::pin(async move {
            tokio::time::timeout(HTTP_TIMEOUT, post(request))
                .await
                .map_err(|_| "the endpoint did not answer within 15 seconds".to_owned())?
        })
    }
}

async fn post(request: HttpRequest) -> Result<u16, String> {
    let uri: Uri = request
        .url
        .parse()
        .map_err(|e| format!("invalid endpoint {}: {e}", request.url))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!(
            "{}: only http:// endpoints are reachable (this build has no TLS client)",
            request.url
        ));
    }
    let host = uri.host().ok_or("endpoint without a host")?.to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let mut builder = Request::post(path)
        .header(
            header::HOST,
            uri.authority()
                .map_or_else(|| host.clone(), |a| a.to_string()),
        )
        .header(
            header::USER_AGENT,
            "Amazon Simple Notification Service Agent",
        );
    // The delivery policy's content type when the delivery names one, else SNS's default.
    if !request
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
    {
        builder = builder.header(header::CONTENT_TYPE, "text/plain; charset=UTF-8");
    }
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let request = builder
        .body(Full::new(Bytes::from(request.body)))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    // Read the answer so the connection ends cleanly.
    let _ = response.into_body().collect().await;
    Ok(status)
}
