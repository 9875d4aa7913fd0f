//! S3 on the gateway's port: requests go to an `s3s` service (S3's routing, headers and XML
//! shapes, generated from AWS's Smithy model) after what an emulator must do differently from
//! AWS's own endpoint:
//! - any credentials are accepted, as by every AWS emulator: the SigV4 signature (header or
//!   presigned query) is removed before `s3s` sees the request, an expired presigned URL is
//!   still refused as AWS refuses it;
//! - aws-chunked bodies (`STREAMING-*` payloads: the SDKs' default since 2025, with trailing
//!   checksums) are decoded here ([`aws_chunked`]), their trailers handed to the backend in
//!   the request's [`Trailers`];
//! - virtual-hosted-style requests name the bucket in the host: `<bucket>.localhost`,
//!   `<bucket>.s3.localhost`, `<bucket>.s3[.-]<region>.amazonaws.com`, `<bucket>.s3.amazonaws.com`;
//!   any other host is path-style.

pub mod aws_chunked;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use s3s::host::{S3Host, VirtualHost};
use s3s::service::{S3Service, S3ServiceBuilder};

use crate::classify::Protocol;
use crate::gateway;

/// Header names and values, in order.
pub type Headers = Vec<(String, String)>;

/// The trailing headers of an aws-chunked body, filled once the body has been read whole.
#[derive(Debug, Clone, Default)]
pub struct Trailers(pub Arc<Mutex<Option<Headers>>>);

impl Trailers {
    /// The trailers, once the body is read (empty before, or if it had none).
    pub fn take(&self) -> Headers {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .unwrap_or_default()
    }
}

/// The access key id a request was signed with (its signature is not checked), for what
/// S3 reports of the requester (an event's `principalId`).
#[derive(Debug, Clone, Default)]
pub struct Signer(pub String);

/// The access key id of a SigV4 `Authorization` header or presigned query.
fn access_key(parts: &axum::http::request::Parts) -> Option<String> {
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let credential = match header {
        Some(h) => h.split_once("Credential=")?.1.to_owned(),
        None => {
            crate::rest::pairs(parts.uri.query())
                .into_iter()
                .find(|(k, _)| k == "X-Amz-Credential" || k == "AWSAccessKeyId")?
                .1
        }
    };
    credential
        .split(['/', ',', ' '])
        .next()
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
}

/// Serves S3 with `s3` (an `s3s` backend).
pub fn router(s3: impl s3s::S3) -> Router {
    let mut builder = S3ServiceBuilder::new(s3);
    builder.set_host(Hosts);
    let service = Arc::new(builder.build());
    Router::new().fallback(move |request: Request| {
        let service = Arc::clone(&service);
        async move { serve(&service, request).await }
    })
}

async fn serve(service: &S3Service, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let signer = Signer(access_key(&parts).unwrap_or_default());
    parts.extensions.insert(signer);
    if let Some(query) = parts.uri.query()
        && (query.contains("X-Amz-Signature=") || query.contains("Signature="))
    {
        if let Some(refusal) = presigned_expired(query, unix_now()) {
            return refusal;
        }
        match unsigned_uri(&parts.uri) {
            Some(uri) => parts.uri = uri,
            None => {
                return gateway::error(
                    Protocol::RestXml,
                    StatusCode::BAD_REQUEST,
                    "InvalidRequest",
                    "The request URI is malformed.",
                );
            }
        }
    }
    parts.headers.remove(header::AUTHORIZATION);
    let streaming = parts
        .headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("STREAMING-"))
        || parts
            .headers
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|e| e.trim() == "aws-chunked"));
    let body = if streaming {
        let decoded = parts
            .headers
            .get("x-amz-decoded-content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let Some(decoded) = decoded else {
            return gateway::error(
                Protocol::RestXml,
                StatusCode::LENGTH_REQUIRED,
                "MissingContentLength",
                "You must provide the Content-Length HTTP header.",
            );
        };
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(decoded));
        // AWS stores the object's Content-Encoding without the transfer's aws-chunked.
        let encoding = parts
            .headers
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|e| *e != "aws-chunked" && !e.is_empty())
                    .collect::<Vec<_>>()
                    .join(",")
            });
        match encoding.and_then(|e| HeaderValue::from_str(&e).ok()) {
            Some(value) if !value.is_empty() => {
                parts.headers.insert(header::CONTENT_ENCODING, value);
            }
            _ => {
                parts.headers.remove(header::CONTENT_ENCODING);
            }
        }
        parts.headers.insert(
            "x-amz-content-sha256",
            HeaderValue::from_static("UNSIGNED-PAYLOAD"),
        );
        let trailers = Trailers::default();
        parts.extensions.insert(trailers.clone());
        s3s::Body::http_body_unsync(aws_chunked::decode(body.into_data_stream(), trailers))
    } else {
        s3s::Body::http_body_unsync(body)
    };
    let request = axum::http::Request::from_parts(parts, body);
    match service.call(request).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            if parts.status.is_client_error() || parts.status.is_server_error() {
                return with_message(parts, body).await;
            }
            Response::from_parts(parts, Body::new(body))
        }
        Err(error) => {
            tracing::error!(?error, "the S3 service failed");
            gateway::error(
                Protocol::RestXml,
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "We encountered an internal error. Please try again.",
            )
        }
    }
}

/// An error `s3s` answered without a message (refusals made before any operation runs, such
/// as a malformed bucket name), given AWS's message for its code.
async fn with_message(parts: axum::http::response::Parts, body: s3s::Body) -> Response {
    use http_body_util::BodyExt as _;
    let Ok(collected) = body.collect().await else {
        return Response::from_parts(parts, Body::empty());
    };
    let bytes = collected.to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    if text.contains("<Message>") {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let code = text
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.to_owned());
    let Some((code, message)) = code.and_then(|c| default_message(&c).map(|m| (c, m))) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let patched = text.replacen(
        &format!("<Code>{code}</Code>"),
        &format!("<Code>{code}</Code><Message>{message}</Message>"),
        1,
    );
    let mut parts = parts;
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(patched))
}

/// AWS's message for an S3 error code, where `s3s` gives none.
fn default_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "InvalidBucketName" => "The specified bucket is not valid.",
        "NoSuchBucket" => "The specified bucket does not exist",
        "NoSuchKey" => "The specified key does not exist.",
        "MethodNotAllowed" => "The specified method is not allowed against this resource.",
        "MalformedXML" => {
            "The XML you provided was not well-formed or did not validate against our published schema"
        }
        "NotImplemented" => "A header you provided implies functionality that is not implemented",
        "MissingContentLength" => "You must provide the Content-Length HTTP header.",
        "InvalidRange" => "The requested range is not satisfiable",
        "PreconditionFailed" => "At least one of the pre-conditions you specified did not hold",
        "InvalidArgument" => "Invalid Argument",
        "InvalidRequest" => "Invalid Request",
        "KeyTooLongError" => "Your key is too long",
        "EntityTooLarge" => "Your proposed upload exceeds the maximum allowed size",
        "AccessDenied" => "Access Denied",
        _ => return None,
    })
}

/// The presigned query's refusal if it has expired (`X-Amz-Date` + `X-Amz-Expires`), as AWS
/// words it.
fn presigned_expired(query: &str, now: i64) -> Option<Response> {
    let pairs = crate::rest::pairs(Some(query));
    let value = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    // SigV4 says when it was signed and for how long; SigV2 when it expires.
    let expiry = match value("X-Amz-Date").and_then(parse_amz_date) {
        Some(signed) => signed + value("X-Amz-Expires")?.parse::<i64>().ok()?,
        None => value("Expires")?.parse().ok()?,
    };
    (now > expiry).then(|| {
        gateway::error(
            Protocol::RestXml,
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Request has expired",
        )
        .into_response()
    })
}

/// The query parameters of a SigV2 presigned URL.
const SIGV2_QUERY: [&str; 3] = ["AWSAccessKeyId", "Signature", "Expires"];

/// The URI without the presigning parameters.
fn unsigned_uri(uri: &Uri) -> Option<Uri> {
    let query = uri.query().unwrap_or_default();
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| {
            let name = p.split('=').next().unwrap_or_default();
            !name.starts_with("X-Amz-") && !SIGV2_QUERY.contains(&name)
        })
        .filter(|p| !p.is_empty())
        .collect();
    let path = uri.path();
    let text = if kept.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", kept.join("&"))
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(text.parse().ok()?);
    Uri::from_parts(parts).ok()
}

/// Seconds since the epoch of an `X-Amz-Date` (`20261207T120000Z`).
fn parse_amz_date(text: &str) -> Option<i64> {
    chrono::NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc().timestamp())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Which hosts name a bucket (see the module's documentation).
struct Hosts;

/// Host suffixes that follow a bucket's name, longest first.
const BUCKET_HOST_SUFFIXES: [&str; 3] = [".s3.localhost", ".localhost", ".s3.amazonaws.com"];

impl S3Host for Hosts {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> s3s::S3Result<VirtualHost<'a>> {
        Ok(match bucket_of_host(host) {
            Some(bucket) => VirtualHost::new(host).with_bucket(bucket),
            None => VirtualHost::new(host),
        })
    }
}

/// The bucket a virtual-hosted-style `Host` names, if it names one.
fn bucket_of_host(host: &str) -> Option<&str> {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    for suffix in BUCKET_HOST_SUFFIXES {
        if let Some(bucket) = name.strip_suffix(suffix)
            && !bucket.is_empty()
        {
            return Some(bucket);
        }
    }
    // `<bucket>.s3.<region>.amazonaws.com` and the older `<bucket>.s3-<region>.amazonaws.com`.
    let rest = name.strip_suffix(".amazonaws.com")?;
    let (front, region) = rest.rsplit_once('.')?;
    if let Some(bucket) = front.strip_suffix(".s3")
        && !bucket.is_empty()
        && !region.is_empty()
    {
        return Some(bucket);
    }
    let (bucket, s3_region) = rest.rsplit_once('.')?;
    s3_region.strip_prefix("s3-").map(|_| bucket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_that_name_buckets() {
        assert_eq!(bucket_of_host("logs.localhost:4566"), Some("logs"));
        assert_eq!(bucket_of_host("my.logs.s3.localhost"), Some("my.logs"));
        assert_eq!(
            bucket_of_host("logs.s3.eu-west-1.amazonaws.com"),
            Some("logs")
        );
        assert_eq!(
            bucket_of_host("logs.s3-eu-west-1.amazonaws.com"),
            Some("logs")
        );
        assert_eq!(bucket_of_host("logs.s3.amazonaws.com"), Some("logs"));
        for path_style in [
            "localhost:4566",
            "127.0.0.1:4566",
            "s3.amazonaws.com",
            "s3.eu-west-1.amazonaws.com",
            "sluice:4566",
            "[::1]:4566",
        ] {
            assert_eq!(bucket_of_host(path_style), None, "{path_style}");
        }
    }

    #[test]
    fn presigned_urls_expire_as_on_aws() {
        let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261207T120000Z&X-Amz-Expires=60&X-Amz-Signature=ab";
        let signed = parse_amz_date("20261207T120000Z").unwrap();
        assert_eq!(signed, 1_796_644_800);
        assert!(presigned_expired(query, signed + 60).is_none());
        let refused = presigned_expired(query, signed + 61).unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert_eq!(parse_amz_date("2026-12-07T12:00:00Z"), None);
        let v2 = "AWSAccessKeyId=AKID&Signature=x%3D&Expires=1796644800";
        assert!(presigned_expired(v2, 1_796_644_800).is_none());
        assert!(presigned_expired(v2, 1_796_644_801).is_some());
    }

    #[test]
    fn presigning_parameters_are_removed_and_the_rest_kept() {
        let uri: Uri = "/b/k?versionId=3&X-Amz-Credential=a%2Fb&X-Amz-Signature=ab&partNumber=2"
            .parse()
            .unwrap();
        assert_eq!(
            unsigned_uri(&uri).unwrap().to_string(),
            "/b/k?versionId=3&partNumber=2"
        );
    }
}
