//! Which AWS service and wire protocol a request speaks, from its method, target and headers:
//! pure, so that one port can serve every service (see [`classify`]).

use std::borrow::Cow;

use axum::http::{HeaderMap, Method, Uri};

use crate::http::TARGET_HEADER_NAME;

/// The services Sluice answers on its one port, and Sluice's own routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    StepFunctions,
    Lambda,
    Sqs,
    Sns,
    Kinesis,
    EventBridge,
    Scheduler,
    Pipes,
    S3,
    DynamoDb,
    DynamoDbStreams,
    /// `/sluice/...` and `/health`.
    Sluice,
}

impl Service {
    /// Every service, for tables and listings.
    pub const ALL: [Service; 12] = [
        Service::StepFunctions,
        Service::Lambda,
        Service::Sqs,
        Service::Sns,
        Service::Kinesis,
        Service::EventBridge,
        Service::Scheduler,
        Service::Pipes,
        Service::S3,
        Service::DynamoDb,
        Service::DynamoDbStreams,
        Service::Sluice,
    ];

    /// The name clients sign requests for (the credential scope's service).
    pub fn signing_name(self) -> &'static str {
        match self {
            Service::StepFunctions => "states",
            Service::Lambda => "lambda",
            Service::Sqs => "sqs",
            Service::Sns => "sns",
            Service::Kinesis => "kinesis",
            Service::EventBridge => "events",
            Service::Scheduler => "scheduler",
            Service::Pipes => "pipes",
            Service::S3 => "s3",
            Service::DynamoDb | Service::DynamoDbStreams => "dynamodb",
            Service::Sluice => "sluice",
        }
    }

    /// The protocol a service speaks when the request itself does not say (SQS speaks both
    /// AWS JSON 1.0 and the query protocol; the request's shape decides).
    pub fn protocol(self) -> Protocol {
        match self {
            Service::StepFunctions
            | Service::Sqs
            | Service::DynamoDb
            | Service::DynamoDbStreams => Protocol::AwsJson1_0,
            Service::Kinesis | Service::EventBridge => Protocol::AwsJson1_1,
            Service::Lambda | Service::Scheduler | Service::Pipes | Service::Sluice => {
                Protocol::RestJson1
            }
            Service::Sns => Protocol::AwsQuery,
            Service::S3 => Protocol::RestXml,
        }
    }

    fn of_signing_name(name: &str) -> Option<Service> {
        Some(match name {
            "states" => Service::StepFunctions,
            "lambda" => Service::Lambda,
            "sqs" => Service::Sqs,
            "sns" => Service::Sns,
            "kinesis" => Service::Kinesis,
            "events" => Service::EventBridge,
            "scheduler" => Service::Scheduler,
            "pipes" => Service::Pipes,
            "s3" => Service::S3,
            "dynamodb" => Service::DynamoDb,
            _ => return None,
        })
    }

    /// The service whose AWS JSON `X-Amz-Target` prefix this is, with its protocol.
    fn of_target_prefix(prefix: &str) -> Option<(Service, Protocol)> {
        Some(match prefix {
            "AWSStepFunctions" => (Service::StepFunctions, Protocol::AwsJson1_0),
            "AmazonSQS" => (Service::Sqs, Protocol::AwsJson1_0),
            "DynamoDB_20120810" => (Service::DynamoDb, Protocol::AwsJson1_0),
            "DynamoDBStreams_20120810" => (Service::DynamoDbStreams, Protocol::AwsJson1_0),
            "Kinesis_20131202" => (Service::Kinesis, Protocol::AwsJson1_1),
            "AWSEvents" => (Service::EventBridge, Protocol::AwsJson1_1),
            _ => return None,
        })
    }
}

/// The AWS wire protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `POST /`, `X-Amz-Target: <Prefix>.<Operation>`, `application/x-amz-json-1.0`.
    AwsJson1_0,
    /// The same with `application/x-amz-json-1.1`.
    AwsJson1_1,
    /// The operation in method and path, JSON bodies, `x-amzn-ErrorType` on errors.
    RestJson1,
    /// A form body (or query string) with `Action=<Operation>`, XML responses.
    AwsQuery,
    /// The operation in method, path and query, XML bodies (S3).
    RestXml,
}

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub service: Service,
    pub protocol: Protocol,
}

/// The region and service a request was signed for (SigV4's credential scope), from the
/// `Authorization` header or, for a presigned URL, the `X-Amz-Credential` query parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    pub region: String,
    pub service: String,
}

impl CredentialScope {
    /// The scope of `headers`/`uri`, if the request is signed with SigV4.
    pub fn of(uri: &Uri, headers: &HeaderMap) -> Option<Self> {
        let credential = credential(uri, headers)?;
        let (region, service) = scope_parts(&credential)?;
        Some(Self {
            region: region.to_string(),
            service: service.to_string(),
        })
    }
}

/// The SigV4 credential (`<access key>/<date>/<region>/<service>/aws4_request`) from the
/// `Authorization` header, borrowed, or from a presigned URL's `X-Amz-Credential`, decoded.
fn credential<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Option<Cow<'a, str>> {
    let from_header = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|auth| auth.strip_prefix("AWS4-HMAC-SHA256"))
        .and_then(|rest| {
            // Clients put it first: found without a substring search (every request asks).
            match rest.trim_start_matches(' ').strip_prefix("Credential=") {
                Some(credential) => Some(credential),
                None => rest
                    .split_once("Credential=")
                    .map(|(_, credential)| credential),
            }
        })
        .map(|credential| {
            let end = credential
                .bytes()
                .position(|b| b == b',' || b == b' ')
                .unwrap_or(credential.len());
            &credential[..end]
        });
    match from_header {
        Some(credential) => Some(Cow::Borrowed(credential)),
        None => {
            let query = uri.query()?;
            let (_, value) = query.split('&').find_map(|pair| {
                pair.split_once('=')
                    .filter(|(key, _)| key.eq_ignore_ascii_case("X-Amz-Credential"))
            })?;
            Some(percent_encoding::percent_decode_str(value).decode_utf8_lossy())
        }
    }
}

/// `(region, service)` of a credential, if it is well formed.
fn scope_parts(credential: &str) -> Option<(&str, &str)> {
    let mut parts = credential.rsplit('/');
    let (Some("aws4_request"), Some(service), Some(region)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if region.is_empty() || service.is_empty() {
        return None;
    }
    Some((region, service))
}

/// Lambda's REST paths start with an API version date (`/2015-03-31/functions`,
/// `/2017-10-31/functions/{name}/concurrency`, `/2017-03-31/tags/{arn}`, ...).
fn is_lambda_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    let (date, rest) = rest.split_once('/').unwrap_or((rest, ""));
    let bytes = date.as_bytes();
    let dated = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        })
        && date.starts_with("20");
    let resource = rest.split('/').next().unwrap_or("");
    dated
        && matches!(
            resource,
            "functions" | "event-source-mappings" | "tags" | "layers" | "account-settings"
        )
}

fn path_segment_is(path: &str, first: &str) -> bool {
    let rest = path.strip_prefix('/').unwrap_or(path);
    rest.strip_prefix(first)
        .is_some_and(|after| after.is_empty() || after.starts_with('/'))
}

/// Which service and protocol a request speaks. In order:
/// 1. `X-Amz-Target: <Prefix>.<Operation>`: AWS JSON 1.0/1.1, the service by prefix;
/// 2. a form body (`application/x-www-form-urlencoded`) or `?Action=`: the query protocol,
///    the service from the credential scope (SQS and SNS share `POST /`);
/// 3. Sluice's own routes (`/sluice/...`, `/health`);
/// 4. REST-JSON path prefixes: Lambda's dated paths, Scheduler's `/schedules` and
///    `/schedule-groups`, Pipes' `/v1/pipes`; `/tags/{arn}` (Scheduler and Pipes) by the
///    credential scope or the ARN's service;
/// 5. everything else is S3 REST-XML, path-style or virtual-host-style.
///
/// A request signed for a service Sluice knows goes to that service whatever its shape
/// (within that service's protocols), so an S3 bucket named like a Lambda path is still S3.
pub fn classify(method: &Method, uri: &Uri, headers: &HeaderMap) -> Route {
    classify_signed(method, uri, headers).0
}

/// [`classify`], and the region the request was signed for ([`CredentialScope`]'s), from one
/// reading of the credential.
pub fn classify_signed(method: &Method, uri: &Uri, headers: &HeaderMap) -> (Route, Option<String>) {
    let credential = credential(uri, headers);
    let scope = credential.as_deref().and_then(scope_parts);
    let signed_for = scope.and_then(|(_, service)| Service::of_signing_name(service));
    let route = route(method, uri, headers, signed_for);
    (route, scope.map(|(region, _)| region.to_string()))
}

fn route(method: &Method, uri: &Uri, headers: &HeaderMap, signed_for: Option<Service>) -> Route {
    let path = uri.path();
    if let Some(target) = headers
        .get(&TARGET_HEADER_NAME)
        .and_then(|v| v.to_str().ok())
    {
        let prefix = target.split_once('.').map_or(target, |(prefix, _)| prefix);
        if let Some((service, protocol)) = Service::of_target_prefix(prefix) {
            return Route { service, protocol };
        }
        // An unknown prefix: answer as the signed-for service would, in JSON.
        let protocol = if content_type(headers).contains("1.1") {
            Protocol::AwsJson1_1
        } else {
            Protocol::AwsJson1_0
        };
        let service = signed_for
            .filter(|s| matches!(s.protocol(), Protocol::AwsJson1_0 | Protocol::AwsJson1_1))
            .unwrap_or(Service::StepFunctions);
        return Route { service, protocol };
    }
    let form = *method == Method::POST
        && content_type(headers).starts_with("application/x-www-form-urlencoded");
    let query_action = uri
        .query()
        .is_some_and(|q| q.split('&').any(|pair| pair.starts_with("Action=")));
    if (form || query_action) && signed_for != Some(Service::S3) {
        let service = match signed_for {
            Some(Service::Sns) => Service::Sns,
            Some(Service::Sqs) => Service::Sqs,
            // Unsigned: SQS addresses queues by path (`/<account>/<queue>`); SNS posts to `/`.
            _ if path.len() > 1 => Service::Sqs,
            _ => Service::Sns,
        };
        return Route {
            service,
            protocol: Protocol::AwsQuery,
        };
    }
    if path_segment_is(path, "sluice") || path == "/health" {
        return Route {
            service: Service::Sluice,
            protocol: Protocol::RestJson1,
        };
    }
    let rest_json = |service| Route {
        service,
        protocol: Protocol::RestJson1,
    };
    match signed_for {
        Some(Service::S3) => {
            return Route {
                service: Service::S3,
                protocol: Protocol::RestXml,
            };
        }
        Some(service @ (Service::Lambda | Service::Scheduler | Service::Pipes)) => {
            return rest_json(service);
        }
        _ => {}
    }
    if is_lambda_path(path) {
        return rest_json(Service::Lambda);
    }
    if path_segment_is(path, "schedules") || path_segment_is(path, "schedule-groups") {
        return rest_json(Service::Scheduler);
    }
    if path_segment_is(path, "v1/pipes") {
        return rest_json(Service::Pipes);
    }
    if let Some(arn) = path.strip_prefix("/tags/") {
        let arn = percent_decode(arn);
        match sluice_types::Arn::parse(&arn).map(|arn| arn.service) {
            Ok("scheduler") => return rest_json(Service::Scheduler),
            Ok("pipes") => return rest_json(Service::Pipes),
            _ => {}
        }
    }
    Route {
        service: Service::S3,
        protocol: Protocol::RestXml,
    }
}

fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Decodes `%XX` escapes (invalid ones stay as they are).
pub(crate) fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_keeps_invalid_escapes() {
        assert_eq!(percent_decode("arn%3Aaws%3Apipes"), "arn:aws:pipes");
        assert_eq!(percent_decode("a+b%2"), "a+b%2");
        assert_eq!(percent_decode("%zz%"), "%zz%");
        assert_eq!(percent_decode("%41"), "A");
    }

    #[test]
    fn the_credential_scope_comes_from_the_header_or_a_presigned_url() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20261207/cn-northwest-1/states/aws4_request, \
             SignedHeaders=host, Signature=abc"
                .parse()
                .unwrap(),
        );
        let uri: Uri = "/".parse().unwrap();
        assert_eq!(
            CredentialScope::of(&uri, &headers),
            Some(CredentialScope {
                region: "cn-northwest-1".into(),
                service: "states".into()
            })
        );
        let presigned: Uri = "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261207%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Signature=x"
            .parse()
            .unwrap();
        assert_eq!(
            CredentialScope::of(&presigned, &HeaderMap::new()).map(|s| (s.region, s.service)),
            Some(("eu-west-1".into(), "s3".into()))
        );
        let mut basic = HeaderMap::new();
        basic.insert("authorization", "Basic xyz".parse().unwrap());
        assert_eq!(CredentialScope::of(&uri, &basic), None);
        let mut short = HeaderMap::new();
        short.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/aws4_request"
                .parse()
                .unwrap(),
        );
        assert_eq!(CredentialScope::of(&uri, &short), None);
    }

    fn request(method: &str, target: &str, headers: &[(&str, &str)]) -> (Method, Uri, HeaderMap) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        (method.parse().unwrap(), target.parse().unwrap(), map)
    }

    fn protocol_named(name: &str) -> Protocol {
        match name {
            "awsJson1_0" => Protocol::AwsJson1_0,
            "awsJson1_1" => Protocol::AwsJson1_1,
            "restJson1" => Protocol::RestJson1,
            "awsQuery" => Protocol::AwsQuery,
            "restXml" => Protocol::RestXml,
            other => panic!("unknown protocol {other}"),
        }
    }

    /// Requests the real `aws` CLI and boto3 sent (`tests/fixtures/capture_requests.py`).
    #[test]
    fn captured_client_requests_reach_their_service() {
        let cases: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("../tests/fixtures/captured_requests.json")).unwrap();
        assert!(cases.len() >= 30, "the capture covers every service");
        let mut seen = std::collections::HashSet::new();
        for case in &cases {
            let headers: Vec<(&str, &str)> = case["headers"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
                .collect();
            let (method, uri, headers) = request(
                case["method"].as_str().unwrap(),
                case["target"].as_str().unwrap(),
                &headers,
            );
            let route = classify(&method, &uri, &headers);
            let what = format!("{} {}", case["client"], case["command"]);
            let service = case["service"].as_str().unwrap();
            // DynamoDB Streams signs as dynamodb; its target prefix tells it apart.
            let expected = if case["command"]
                .as_str()
                .unwrap()
                .starts_with("dynamodbstreams")
            {
                "dynamodb"
            } else {
                service
            };
            assert_eq!(route.service.signing_name(), expected, "{what}");
            assert_eq!(
                route.protocol,
                protocol_named(case["protocol"].as_str().unwrap()),
                "{what}"
            );
            // Signed for the region the client was configured with.
            let scope = CredentialScope::of(&uri, &headers).unwrap();
            assert_eq!(scope.service, expected, "{what}");
            seen.insert(route.service);
        }
        for service in Service::ALL {
            if service != Service::Sluice {
                assert!(
                    seen.contains(&service),
                    "no captured request for {service:?}"
                );
            }
        }
    }

    #[test]
    fn unsigned_and_older_requests_are_classified_by_their_shape() {
        let form = (
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        );
        let sqs_scope = (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=A/20261207/us-east-1/sqs/aws4_request, SignedHeaders=host",
        );
        type Case<'a> = (
            &'a str,
            &'a str,
            &'a [(&'a str, &'a str)],
            Service,
            Protocol,
        );
        let table: &[Case] = &[
            // Older SDKs speak query to SQS, on `/` or the queue's URL.
            (
                "POST",
                "/",
                &[form, sqs_scope],
                Service::Sqs,
                Protocol::AwsQuery,
            ),
            (
                "POST",
                "/000000000000/q",
                &[form],
                Service::Sqs,
                Protocol::AwsQuery,
            ),
            ("POST", "/", &[form], Service::Sns, Protocol::AwsQuery),
            (
                "GET",
                "/?Action=ListQueues",
                &[sqs_scope],
                Service::Sqs,
                Protocol::AwsQuery,
            ),
            // Virtual-host-style S3 and presigned URLs.
            (
                "GET",
                "/k",
                &[("host", "b.s3.localhost:4566")],
                Service::S3,
                Protocol::RestXml,
            ),
            (
                "GET",
                "/b/k?X-Amz-Credential=A%2F20261207%2Fus-east-1%2Fs3%2Faws4_request",
                &[],
                Service::S3,
                Protocol::RestXml,
            ),
            // Unsigned REST-JSON by path.
            (
                "GET",
                "/2015-03-31/functions",
                &[],
                Service::Lambda,
                Protocol::RestJson1,
            ),
            (
                "GET",
                "/schedules?MaxResults=1",
                &[],
                Service::Scheduler,
                Protocol::RestJson1,
            ),
            ("GET", "/v1/pipes", &[], Service::Pipes, Protocol::RestJson1),
            (
                "GET",
                "/tags/arn%3Aaws%3Apipes%3Aus-east-1%3A1%3Apipe%2Fp",
                &[],
                Service::Pipes,
                Protocol::RestJson1,
            ),
            // Sluice's own routes.
            (
                "POST",
                "/sluice/clock",
                &[],
                Service::Sluice,
                Protocol::RestJson1,
            ),
            ("GET", "/health", &[], Service::Sluice, Protocol::RestJson1),
            // A bucket named like a Lambda path is S3 when signed for S3.
            (
                "GET",
                "/2015-03-31/functions",
                &[(
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=A/20261207/us-east-1/s3/aws4_request",
                )],
                Service::S3,
                Protocol::RestXml,
            ),
            // An unknown JSON target answers in JSON.
            (
                "POST",
                "/",
                &[
                    ("x-amz-target", "Nope_2020.Do"),
                    ("content-type", "application/x-amz-json-1.1"),
                ],
                Service::StepFunctions,
                Protocol::AwsJson1_1,
            ),
            ("GET", "/", &[], Service::S3, Protocol::RestXml),
        ];
        for (method, target, headers, service, protocol) in table {
            let (m, u, h) = request(method, target, headers);
            assert_eq!(
                classify(&m, &u, &h),
                Route {
                    service: *service,
                    protocol: *protocol
                },
                "{method} {target}"
            );
        }
    }

    #[test]
    fn lambda_paths_are_dated() {
        assert!(is_lambda_path("/2015-03-31/functions"));
        assert!(is_lambda_path(
            "/2019-09-25/functions/f/event-invoke-config"
        ));
        assert!(is_lambda_path("/2017-03-31/tags/arn%3Aaws"));
        assert!(!is_lambda_path("/2015-03-31/objects/key"));
        assert!(!is_lambda_path("/functions"));
        assert!(!is_lambda_path("/1999-03-31x/functions"));
    }
}
