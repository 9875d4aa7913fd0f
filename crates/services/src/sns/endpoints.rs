//! [`SnsEndpoints`]: where the broker's topic deliveries leave it — functions (an event
//! invocation, journaled by the functions before it is acknowledged) and HTTP(S) endpoints (one
//! POST per delivery, 15 seconds at most, as SNS waits). HTTPS endpoints must present a
//! certificate the machine trusts, as SNS requires one signed by a trusted authority: the
//! system's roots, or the file or folder named by `SSL_CERT_FILE` / `SSL_CERT_DIR`.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::http::{Request, Uri, header};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use sluice_broker::topics::{Endpoints, HttpRequest};
use sluice_functions::{FunctionName, Functions, InvokeOptions};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, pki_types::ServerName};

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
            // arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>], of its region
            let named = FunctionName::parse(function_arn)
                .filter(|named| named.region.is_some())
                .ok_or_else(|| format!("{function_arn} is not a function ARN"))?;
            let options = InvokeOptions {
                qualifier: named.qualifier.clone(),
                ..InvokeOptions::default()
            };
            self.functions
                .of(&named)
                .invoke_event(&named.name, Bytes::from(payload), options)
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
    let tls = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(format!("{}: not an http(s) URL", request.url)),
    };
    let host = uri.host().ok_or("endpoint without a host")?;
    // A URI host keeps an IPv6 address's brackets; connecting and TLS want the address.
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .to_owned();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let stream = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    if tls {
        let name = ServerName::try_from(host.clone())
            .map_err(|e| format!("{}: invalid TLS server name: {e}", request.url))?;
        let stream = TlsConnector::from(tls_config())
            .connect(name, stream)
            .await
            .map_err(|e| format!("TLS with {host}:{port} failed: {e}"))?;
        send(stream, &uri, &host, request).await
    } else {
        send(stream, &uri, &host, request).await
    }
}

/// The TLS client's settings, built once: the machine's trusted roots.
fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    Arc::clone(CONFIG.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::warn!(%error, "a trusted certificate could not be loaded");
        }
        let (added, ignored) = roots.add_parsable_certificates(found.certs);
        tracing::debug!(added, ignored, "trusted roots for HTTPS endpoints");
        Arc::new(
            // The provider is the one the crate's features select: ring.
            rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }))
}

/// One POST over an open connection; the endpoint's status.
async fn send<S>(stream: S, uri: &Uri, host: &str, request: HttpRequest) -> Result<u16, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
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
                .map_or_else(|| host.to_owned(), |a| a.to_string()),
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
