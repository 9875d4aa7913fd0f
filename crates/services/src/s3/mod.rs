//! The S3 API (`s3s`'s operations and shapes) on [`Buckets`]: each operation maps its input to
//! the buckets' calls and their answers to AWS's output shapes, headers and error codes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use futures_util::StreamExt as _;
use s3s::dto::{self, ETag, ETagCondition, StreamingBlob, Timestamp};
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use sluice_buckets::Origin;
use sluice_buckets::notify::{self, Notifications, Rule};
use sluice_buckets::{
    Algorithm, Attributes, Buckets, ChecksumType, Conditions, Content, Error, Integrity, Object,
    Query,
};
use sluice_store::Store;

use crate::targets::{Delivery, Targets};

/// Most keys one listing page holds (S3's cap on MaxKeys).
const MAX_KEYS: usize = 1000;

pub mod notifications;
pub mod sdk;

/// The S3 API's backend.
pub struct S3Backend<S: Store> {
    buckets: Buckets<S>,
    /// Where a bucket is created when the request names no region.
    default_region: String,
    /// The account that owns every bucket.
    account: String,
    /// Where notification configurations' test events go.
    targets: Option<Targets>,
}

impl<S: Store> S3Backend<S> {
    pub fn new(
        buckets: Buckets<S>,
        default_region: impl Into<String>,
        account: impl Into<String>,
        targets: Option<Targets>,
    ) -> Self {
        S3Backend {
            buckets,
            default_region: default_region.into(),
            account: account.into(),
            targets,
        }
    }

    /// Who made `request`, as events report it.
    fn origin<T>(&self, request: &S3Request<T>) -> Origin {
        let key = request
            .extensions
            .get::<sluice_api::s3_routes::Signer>()
            .map(|s| s.0.clone())
            .unwrap_or_default();
        Origin {
            principal: format!("AWS:{}", if key.is_empty() { &self.account } else { &key }),
            source_ip: "127.0.0.1".into(),
            request_id: sluice_api::request_id::current(),
            account: self.account.clone(),
        }
    }
}

/// Sets the `checksum_<algorithm>` member of a shape (every S3 shape names them alike).
macro_rules! set_checksum {
    ($target:expr, $algorithm:expr, $value:expr) => {
        match $algorithm {
            Algorithm::Crc32 => $target.checksum_crc32 = $value,
            Algorithm::Crc32c => $target.checksum_crc32c = $value,
            Algorithm::Crc64Nvme => $target.checksum_crc64nvme = $value,
            Algorithm::Sha1 => $target.checksum_sha1 = $value,
            Algorithm::Sha256 => $target.checksum_sha256 = $value,
        }
    };
}

fn to_s3(error: Error) -> S3Error {
    let (code, message) = match &error {
        Error::NoSuchBucket(_) => (S3ErrorCode::NoSuchBucket, error.to_string()),
        Error::NoSuchKey(_) => (S3ErrorCode::NoSuchKey, error.to_string()),
        Error::NoSuchVersion(_) => (S3ErrorCode::NoSuchVersion, error.to_string()),
        Error::MethodNotAllowed => (S3ErrorCode::MethodNotAllowed, error.to_string()),
        Error::NoSuchUpload(_) => (S3ErrorCode::NoSuchUpload, error.to_string()),
        Error::BucketAlreadyOwnedByYou(_) => {
            (S3ErrorCode::BucketAlreadyOwnedByYou, error.to_string())
        }
        Error::BucketNotEmpty(_) => (S3ErrorCode::BucketNotEmpty, error.to_string()),
        // AWS's message, whichever rule the name breaks.
        Error::InvalidBucketName(..) => (
            S3ErrorCode::InvalidBucketName,
            "The specified bucket is not valid.".into(),
        ),
        Error::InvalidDigest => (S3ErrorCode::InvalidDigest, error.to_string()),
        Error::BadDigest(_) => (S3ErrorCode::BadDigest, error.to_string()),
        Error::InvalidRequest(_) => (S3ErrorCode::InvalidRequest, error.to_string()),
        Error::IncompleteBody => (S3ErrorCode::IncompleteBody, error.to_string()),
        Error::EntityTooLarge => (S3ErrorCode::EntityTooLarge, error.to_string()),
        Error::PreconditionFailed(_) => (S3ErrorCode::PreconditionFailed, error.to_string()),
        Error::InvalidPart => (S3ErrorCode::InvalidPart, error.to_string()),
        Error::InvalidPartOrder => (S3ErrorCode::InvalidPartOrder, error.to_string()),
        Error::EntityTooSmall => (S3ErrorCode::EntityTooSmall, error.to_string()),
        Error::InvalidArgument(_) => (S3ErrorCode::InvalidArgument, error.to_string()),
        Error::KeyTooLong => (S3ErrorCode::KeyTooLongError, error.to_string()),
        Error::Body(reason) => (
            S3ErrorCode::IncompleteBody,
            format!("The request body could not be read whole: {reason}"),
        ),
        Error::Storage(reason) => {
            tracing::error!(%reason, "S3 storage failed");
            (
                S3ErrorCode::InternalError,
                "We encountered an internal error. Please try again.".into(),
            )
        }
    };
    S3Error::with_message(code, message)
}

/// The version id a response names: only for objects of versioned buckets.
fn version_of(object: &Object, versioned: bool) -> Option<String> {
    versioned.then(|| object.version().to_owned())
}

fn timestamp(ms: i64) -> Timestamp {
    Timestamp::from(UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

fn timestamp_ms(t: &Timestamp) -> i64 {
    let odt: time::OffsetDateTime = t.clone().into();
    (odt.unix_timestamp_nanos() / 1_000_000) as i64
}

fn etag(value: &str) -> ETag {
    ETag::Strong(value.trim_matches('"').to_owned())
}

fn algorithm(a: Option<&dto::ChecksumAlgorithm>) -> S3Result<Option<Algorithm>> {
    match a {
        None => Ok(None),
        Some(a) => Algorithm::parse(a.as_str()).map(Some).ok_or_else(|| {
            s3_error!(
                InvalidRequest,
                "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]"
            )
        }),
    }
}

/// The `x-amz-checksum-*` values a request carries.
fn given_checksums(
    crc32: Option<String>,
    crc32c: Option<String>,
    crc64nvme: Option<String>,
    sha1: Option<String>,
    sha256: Option<String>,
) -> S3Result<Vec<(Algorithm, String)>> {
    let given: Vec<(Algorithm, String)> = [
        (Algorithm::Crc32, crc32),
        (Algorithm::Crc32c, crc32c),
        (Algorithm::Crc64Nvme, crc64nvme),
        (Algorithm::Sha1, sha1),
        (Algorithm::Sha256, sha256),
    ]
    .into_iter()
    .filter_map(|(a, v)| v.map(|v| (a, v)))
    .collect();
    if given.len() > 1 {
        return Err(s3_error!(
            InvalidRequest,
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
        ));
    }
    Ok(given)
}

/// The trailing checksums of an aws-chunked body, once it is read.
fn trailer<T>(request: &S3Request<T>) -> Option<sluice_buckets::Trailer> {
    let trailers = request
        .extensions
        .get::<sluice_api::s3_routes::Trailers>()?
        .clone();
    Some(Box::new(move || {
        trailers
            .take()
            .into_iter()
            .filter_map(|(name, value)| {
                let name = name.strip_prefix("x-amz-checksum-")?;
                Some((Algorithm::parse(name)?, value))
            })
            .collect()
    }))
}

/// An object's checksum headers, as GetObject and HeadObject give them with
/// `ChecksumMode=ENABLED` (and PutObject always).
#[derive(Default)]
struct Sums {
    checksum_crc32: Option<String>,
    checksum_crc32c: Option<String>,
    checksum_crc64nvme: Option<String>,
    checksum_sha1: Option<String>,
    checksum_sha256: Option<String>,
    kind: Option<dto::ChecksumType>,
}

fn sums(object: &Object) -> Sums {
    let mut sums = Sums::default();
    if let Some(c) = &object.checksum {
        set_checksum!(sums, c.algorithm, Some(c.value.clone()));
        sums.kind = Some(dto::ChecksumType::from(c.kind.name().to_owned()));
    }
    sums
}

fn metadata(map: Option<dto::Metadata>) -> BTreeMap<String, String> {
    map.into_iter()
        .flatten()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect()
}

/// `x-amz-tagging` (a URL-encoded query string) as tags.
fn tagging_header(header: Option<&str>) -> S3Result<BTreeMap<String, String>> {
    let mut tags = BTreeMap::new();
    for (k, v) in sluice_api::rest::pairs(header) {
        tags.insert(k, v);
    }
    check_tags(&tags)?;
    Ok(tags)
}

fn check_tags(tags: &BTreeMap<String, String>) -> S3Result<()> {
    if tags.len() > 10 {
        return Err(s3_error!(
            InvalidTag,
            "Object tags cannot be greater than 10"
        ));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(s3_error!(
                InvalidTag,
                "The TagKey you have provided is invalid"
            ));
        }
        if v.chars().count() > 256 {
            return Err(s3_error!(
                InvalidTag,
                "The TagValue you have provided is invalid"
            ));
        }
    }
    Ok(())
}

fn tag_set(tags: &BTreeMap<String, String>) -> Vec<dto::Tag> {
    tags.iter()
        .map(|(k, v)| dto::Tag {
            key: Some(k.clone()),
            value: Some(v.clone()),
        })
        .collect()
}

fn tags_of(tagging: dto::Tagging) -> S3Result<BTreeMap<String, String>> {
    let mut tags = BTreeMap::new();
    for tag in tagging.tag_set {
        let key = tag.key.unwrap_or_default();
        if tags.insert(key, tag.value.unwrap_or_default()).is_some() {
            return Err(s3_error!(
                InvalidTag,
                "Cannot provide multiple Tags with the same key"
            ));
        }
    }
    check_tags(&tags)?;
    Ok(tags)
}

/// Write conditions from `If-Match` / `If-None-Match`.
fn write_conditions(
    if_match: Option<ETagCondition>,
    if_none_match: Option<ETagCondition>,
) -> S3Result<Conditions> {
    let if_none_match = match if_none_match {
        None => false,
        Some(c) if c.is_any() => true,
        Some(_) => {
            return Err(s3_error!(
                NotImplemented,
                "A header you provided implies functionality that is not implemented"
            ));
        }
    };
    let if_match = if_match.map(|c| match c {
        ETagCondition::Any => vec!["*".to_owned()],
        ETagCondition::ETag(e) => vec![e.value().to_owned()],
    });
    Ok(Conditions {
        if_match,
        if_none_match,
    })
}

/// Read conditions (RFC 9110's order, as S3 applies them): 412 or 304, else `Ok`.
fn read_conditions(
    object: &Object,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> S3Result<()> {
    let current = object.etag.trim_matches('"');
    let matches = |c: &ETagCondition| match c {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == current,
    };
    let modified_s = object.last_modified_ms / 1000;
    if let Some(c) = if_match {
        if !matches(c) {
            return Err(s3_error!(PreconditionFailed));
        }
    } else if let Some(t) = if_unmodified_since
        && modified_s > timestamp_ms(t) / 1000
    {
        return Err(s3_error!(PreconditionFailed));
    }
    if let Some(c) = if_none_match {
        if matches(c) {
            return Err(not_modified());
        }
    } else if let Some(t) = if_modified_since
        && modified_s <= timestamp_ms(t) / 1000
    {
        return Err(not_modified());
    }
    Ok(())
}

fn invalid_part_number() -> S3Error {
    let mut error = S3Error::with_message(
        S3ErrorCode::Custom("InvalidPartNumber".into()),
        "The requested partnumber is not satisfiable",
    );
    error.set_status_code(axum::http::StatusCode::RANGE_NOT_SATISFIABLE);
    error
}

fn not_modified() -> S3Error {
    let mut error = S3Error::new(S3ErrorCode::Custom("NotModified".into()));
    error.set_status_code(axum::http::StatusCode::NOT_MODIFIED);
    error
}

/// The bytes a `Range` (or `partNumber`) selects of an object of `size` bytes.
fn selected(
    object: &Object,
    range: Option<&dto::Range>,
    part_number: Option<i32>,
) -> S3Result<Option<(u64, u64)>> {
    if let Some(n) = part_number {
        if range.is_some() {
            return Err(s3_error!(
                InvalidRequest,
                "Cannot specify both Range header and partNumber query parameter"
            ));
        }
        let n = usize::try_from(n).unwrap_or(0);
        if object.parts.is_empty() {
            return if n == 1 {
                Ok(None)
            } else {
                Err(invalid_part_number())
            };
        }
        let Some(part) = n.checked_sub(1).and_then(|i| object.parts.get(i)) else {
            return Err(invalid_part_number());
        };
        let start: u64 = object.parts[..n - 1].iter().map(|p| p.size).sum();
        return Ok(Some((start, part.size)));
    }
    match range {
        None => Ok(None),
        Some(range) => {
            let r = range.check(object.size).map_err(|_| {
                let mut e = s3_error!(InvalidRange, "The requested range is not satisfiable");
                e.set_status_code(axum::http::StatusCode::RANGE_NOT_SATISFIABLE);
                e
            })?;
            Ok(Some((r.start, r.end - r.start)))
        }
    }
}

fn content_of(
    content_type: Option<String>,
    content_encoding: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    cache_control: Option<String>,
    expires: Option<&Timestamp>,
    website_redirect_location: Option<String>,
) -> Content {
    Content {
        content_type,
        content_encoding,
        content_disposition,
        content_language,
        cache_control,
        expires: expires.map(|t| {
            let mut out = Vec::new();
            let _ = t.format(dto::TimestampFormat::HttpDate, &mut out);
            String::from_utf8(out).unwrap_or_default()
        }),
        website_redirect_location,
    }
}

fn expires_of(content: &Content) -> Option<Timestamp> {
    content
        .expires
        .as_deref()
        .and_then(|e| Timestamp::parse(dto::TimestampFormat::HttpDate, e).ok())
}

fn storage_class(class: Option<&dto::StorageClass>) -> S3Result<Option<String>> {
    match class.map(dto::StorageClass::as_str) {
        None => Ok(None),
        Some(c)
            if [
                "STANDARD",
                "REDUCED_REDUNDANCY",
                "STANDARD_IA",
                "ONEZONE_IA",
                "INTELLIGENT_TIERING",
                "GLACIER",
                "DEEP_ARCHIVE",
                "GLACIER_IR",
                "OUTPOSTS",
                "SNOW",
                "EXPRESS_ONEZONE",
            ]
            .contains(&c) =>
        {
            Ok(Some(c.to_owned()))
        }
        Some(_) => Err(s3_error!(
            InvalidStorageClass,
            "The storage class you specified is not valid"
        )),
    }
}

fn list_entry(object: &Object) -> dto::Object {
    dto::Object {
        key: Some(object.key.clone()),
        size: Some(i64::try_from(object.size).unwrap_or(i64::MAX)),
        e_tag: Some(etag(&object.etag)),
        last_modified: Some(timestamp(object.last_modified_ms)),
        storage_class: Some(dto::ObjectStorageClass::from(object.storage_class.clone())),
        checksum_algorithm: object
            .checksum
            .as_ref()
            .map(|c| vec![dto::ChecksumAlgorithm::from(c.algorithm.name().to_owned())]),
        checksum_type: object
            .checksum
            .as_ref()
            .map(|c| dto::ChecksumType::from(c.kind.name().to_owned())),
        owner: None,
        restore_status: None,
    }
}

/// S3's `EncodingType=url` encoding of keys in listings.
fn encode_key(key: &str, url: bool) -> String {
    if !url {
        return key.to_owned();
    }
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    percent_encoding::utf8_percent_encode(key, SET).to_string()
}

fn max_keys(max: Option<i32>) -> S3Result<usize> {
    match max {
        None => Ok(MAX_KEYS),
        Some(n) if n < 0 => Err(s3_error!(
            InvalidArgument,
            "Argument maxKeys must be an integer between 0 and 2147483647"
        )),
        Some(n) => Ok(usize::try_from(n).unwrap_or(MAX_KEYS).min(MAX_KEYS)),
    }
}

fn region_of_location(location: Option<&dto::BucketLocationConstraint>) -> Option<String> {
    location.map(|l| match l.as_str() {
        "EU" => "eu-west-1".to_owned(),
        "" => "us-east-1".to_owned(),
        other => other.to_owned(),
    })
}

/// Reads and drops (up to 16 MiB of) a request body the answer does not need: a client that
/// sent it, or waits with `Expect: 100-continue`, then reads the answer on a connection that
/// can carry its next request.
async fn drain(body: Option<StreamingBlob>) {
    let mut left: usize = 16 * 1024 * 1024;
    let mut stream = body_stream(body);
    while let Some(Ok(chunk)) = stream.next().await {
        left = left.saturating_sub(chunk.len());
        if left == 0 {
            break;
        }
    }
}

fn body_stream(
    body: Option<StreamingBlob>,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, String>> + Send + Unpin {
    match body {
        Some(blob) => blob.map(|r| r.map_err(|e| e.to_string())).left_stream(),
        None => futures_util::stream::empty().right_stream(),
    }
}

#[async_trait::async_trait]
impl<S: Store> S3 for S3Backend<S> {
    async fn create_bucket(
        &self,
        req: S3Request<dto::CreateBucketInput>,
    ) -> S3Result<S3Response<dto::CreateBucketOutput>> {
        let input = req.input;
        let region = input
            .create_bucket_configuration
            .as_ref()
            .and_then(|c| region_of_location(c.location_constraint.as_ref()))
            .or_else(sluice_api::gateway::signed_region)
            .unwrap_or_else(|| self.default_region.clone());
        let signed =
            sluice_api::gateway::signed_region().unwrap_or_else(|| self.default_region.clone());
        if input
            .create_bucket_configuration
            .as_ref()
            .and_then(|c| c.location_constraint.as_ref())
            .is_some_and(|l| l.as_str() == "us-east-1")
        {
            return Err(s3_error!(
                InvalidLocationConstraint,
                "The specified location-constraint is not valid"
            ));
        }
        if region != signed && signed != "us-east-1" {
            return Err(s3_error!(
                IllegalLocationConstraintException,
                "The {region} location constraint is incompatible for the region specific endpoint this request was sent to."
            ));
        }
        self.buckets
            .create_bucket(&input.bucket, &region)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(dto::CreateBucketOutput {
            location: Some(format!("/{}", input.bucket)),
        }))
    }

    async fn delete_bucket(
        &self,
        req: S3Request<dto::DeleteBucketInput>,
    ) -> S3Result<S3Response<dto::DeleteBucketOutput>> {
        self.buckets
            .delete_bucket(&req.input.bucket)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::with_status(
            dto::DeleteBucketOutput {},
            axum::http::StatusCode::NO_CONTENT,
        ))
    }

    async fn head_bucket(
        &self,
        req: S3Request<dto::HeadBucketInput>,
    ) -> S3Result<S3Response<dto::HeadBucketOutput>> {
        let info = self.buckets.bucket(&req.input.bucket).map_err(to_s3)?;
        Ok(S3Response::new(dto::HeadBucketOutput {
            bucket_region: Some(info.region),
            ..Default::default()
        }))
    }

    async fn list_buckets(
        &self,
        req: S3Request<dto::ListBucketsInput>,
    ) -> S3Result<S3Response<dto::ListBucketsOutput>> {
        let input = req.input;
        let buckets = self
            .buckets
            .buckets()
            .into_iter()
            .filter(|b| {
                input
                    .prefix
                    .as_ref()
                    .is_none_or(|p| b.name.starts_with(p.as_str()))
            })
            .filter(|b| input.bucket_region.as_ref().is_none_or(|r| &b.region == r))
            .map(|b| dto::Bucket {
                name: Some(b.name),
                creation_date: Some(timestamp(b.created_ms)),
                bucket_region: Some(b.region),
            })
            .collect();
        Ok(S3Response::new(dto::ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(owner()),
            prefix: input.prefix,
            ..Default::default()
        }))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<dto::GetBucketLocationInput>,
    ) -> S3Result<S3Response<dto::GetBucketLocationOutput>> {
        let info = self.buckets.bucket(&req.input.bucket).map_err(to_s3)?;
        // us-east-1 answers an empty LocationConstraint, as on AWS.
        Ok(S3Response::new(dto::GetBucketLocationOutput {
            location_constraint: (info.region != "us-east-1")
                .then(|| dto::BucketLocationConstraint::from(info.region)),
        }))
    }

    async fn put_object(
        &self,
        req: S3Request<dto::PutObjectInput>,
    ) -> S3Result<S3Response<dto::PutObjectOutput>> {
        let trailer = trailer(&req);
        let origin = self.origin(&req);
        let input = req.input;
        let attributes = Attributes {
            content: content_of(
                input.content_type,
                input.content_encoding,
                input.content_disposition,
                input.content_language,
                input.cache_control,
                input.expires.as_ref(),
                input.website_redirect_location,
            ),
            metadata: metadata(input.metadata),
            tags: tagging_header(input.tagging.as_deref())?,
            storage_class: storage_class(input.storage_class.as_ref())?,
        };
        let integrity = Integrity {
            content_md5: input.content_md5,
            checksums: given_checksums(
                input.checksum_crc32,
                input.checksum_crc32c,
                input.checksum_crc64nvme,
                input.checksum_sha1,
                input.checksum_sha256,
            )?,
            algorithm: algorithm(input.checksum_algorithm.as_ref())?,
            trailer,
            length: input.content_length.and_then(|l| u64::try_from(l).ok()),
        };
        let conditions = write_conditions(input.if_match, input.if_none_match)?;
        if let Err(error) = self.buckets.bucket(&input.bucket) {
            drain(input.body).await;
            return Err(to_s3(error));
        }
        let object = self
            .buckets
            .put_object(
                &input.bucket,
                &input.key,
                attributes,
                integrity,
                conditions,
                body_stream(input.body),
                &origin,
            )
            .await
            .map_err(to_s3)?;
        let s = sums(&object);
        let versioned = self
            .buckets
            .versioning(&object.bucket)
            .ok()
            .flatten()
            .is_some();
        Ok(S3Response::new(dto::PutObjectOutput {
            version_id: version_of(&object, versioned),
            e_tag: Some(etag(&object.etag)),
            checksum_crc32: s.checksum_crc32,
            checksum_crc32c: s.checksum_crc32c,
            checksum_crc64nvme: s.checksum_crc64nvme,
            checksum_sha1: s.checksum_sha1,
            checksum_sha256: s.checksum_sha256,
            checksum_type: s.kind,
            ..Default::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<dto::GetObjectInput>,
    ) -> S3Result<S3Response<dto::GetObjectOutput>> {
        let input = req.input;
        let current = match &input.version_id {
            Some(version) => self
                .buckets
                .object_version(&input.bucket, &input.key, version)
                .map_err(to_s3)?,
            None => self
                .buckets
                .object(&input.bucket, &input.key)
                .map_err(to_s3)?,
        };
        read_conditions(
            &current,
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
            input.if_modified_since.as_ref(),
            input.if_unmodified_since.as_ref(),
        )?;
        let range = input.range;
        let part_number = input.part_number;
        let chosen = std::sync::Mutex::new(None);
        let versioned = self
            .buckets
            .versioning(&input.bucket)
            .map_err(to_s3)?
            .is_some();
        let (object, (start, len), stream) = self
            .buckets
            .get_version(&current, |size| {
                let probe = Object {
                    size,
                    ..(*current).clone()
                };
                let picked = selected(&probe, range.as_ref(), part_number).map_err(|e| {
                    *chosen
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
                    Error::InvalidArgument(String::new())
                })?;
                Ok(picked.unwrap_or((0, size)))
            })
            .await
            .map_err(|e| {
                chosen
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take()
                    .unwrap_or_else(|| to_s3(e))
            })?;
        let partial = input.range.is_some() || input.part_number.is_some();
        let whole = !partial || len == object.size;
        let s = if input.checksum_mode.is_some() && whole {
            sums(&object)
        } else {
            Sums::default()
        };
        let content = &object.content;
        let output = dto::GetObjectOutput {
            version_id: version_of(&object, versioned),
            body: Some(StreamingBlob::wrap(sluice_buckets::SyncStream::new(stream))),
            content_length: Some(i64::try_from(len).unwrap_or(i64::MAX)),
            content_range: partial.then(|| {
                format!(
                    "bytes {}-{}/{}",
                    start,
                    (start + len).saturating_sub(1),
                    object.size
                )
            }),
            accept_ranges: Some("bytes".into()),
            e_tag: Some(etag(&object.etag)),
            last_modified: Some(timestamp(object.last_modified_ms)),
            metadata: (!object.metadata.is_empty())
                .then(|| object.metadata.clone().into_iter().collect()),
            content_type: input
                .response_content_type
                .or_else(|| content.content_type.clone())
                .or_else(|| Some("binary/octet-stream".into())),
            content_encoding: input
                .response_content_encoding
                .or_else(|| content.content_encoding.clone()),
            content_disposition: input
                .response_content_disposition
                .or_else(|| content.content_disposition.clone()),
            content_language: input
                .response_content_language
                .or_else(|| content.content_language.clone()),
            cache_control: input
                .response_cache_control
                .or_else(|| content.cache_control.clone()),
            expires: input.response_expires.or_else(|| expires_of(content)),
            website_redirect_location: content.website_redirect_location.clone(),
            storage_class: (object.storage_class != "STANDARD")
                .then(|| dto::StorageClass::from(object.storage_class.clone())),
            tag_count: (!object.tags.is_empty()).then(|| object.tags.len() as i32),
            parts_count: (input.part_number.is_some() && !object.parts.is_empty())
                .then(|| object.parts.len() as i32),
            checksum_crc32: s.checksum_crc32,
            checksum_crc32c: s.checksum_crc32c,
            checksum_crc64nvme: s.checksum_crc64nvme,
            checksum_sha1: s.checksum_sha1,
            checksum_sha256: s.checksum_sha256,
            checksum_type: s.kind,
            ..Default::default()
        };
        let status = if partial {
            axum::http::StatusCode::PARTIAL_CONTENT
        } else {
            axum::http::StatusCode::OK
        };
        Ok(S3Response::with_status(output, status))
    }

    async fn head_object(
        &self,
        req: S3Request<dto::HeadObjectInput>,
    ) -> S3Result<S3Response<dto::HeadObjectOutput>> {
        let input = req.input;
        let object = match &input.version_id {
            Some(version) => self
                .buckets
                .object_version(&input.bucket, &input.key, version)
                .map_err(to_s3)?,
            None => self
                .buckets
                .object(&input.bucket, &input.key)
                .map_err(to_s3)?,
        };
        let versioned = self
            .buckets
            .versioning(&input.bucket)
            .map_err(to_s3)?
            .is_some();
        read_conditions(
            &object,
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
            input.if_modified_since.as_ref(),
            input.if_unmodified_since.as_ref(),
        )?;
        let picked = selected(&object, input.range.as_ref(), input.part_number)?;
        let (start, len) = picked.unwrap_or((0, object.size));
        let s = if input.checksum_mode.is_some() && len == object.size {
            sums(&object)
        } else {
            Sums::default()
        };
        let content = &object.content;
        let output = dto::HeadObjectOutput {
            version_id: version_of(&object, versioned),
            content_length: Some(i64::try_from(len).unwrap_or(i64::MAX)),
            content_range: picked.map(|_| {
                format!(
                    "bytes {}-{}/{}",
                    start,
                    (start + len).saturating_sub(1),
                    object.size
                )
            }),
            accept_ranges: Some("bytes".into()),
            e_tag: Some(etag(&object.etag)),
            last_modified: Some(timestamp(object.last_modified_ms)),
            metadata: (!object.metadata.is_empty())
                .then(|| object.metadata.clone().into_iter().collect()),
            content_type: content
                .content_type
                .clone()
                .or_else(|| Some("binary/octet-stream".into())),
            content_encoding: content.content_encoding.clone(),
            content_disposition: content.content_disposition.clone(),
            content_language: content.content_language.clone(),
            cache_control: content.cache_control.clone(),
            expires: expires_of(content),
            website_redirect_location: content.website_redirect_location.clone(),
            storage_class: (object.storage_class != "STANDARD")
                .then(|| dto::StorageClass::from(object.storage_class.clone())),
            parts_count: (input.part_number.is_some() && !object.parts.is_empty())
                .then(|| object.parts.len() as i32),
            checksum_crc32: s.checksum_crc32,
            checksum_crc32c: s.checksum_crc32c,
            checksum_crc64nvme: s.checksum_crc64nvme,
            checksum_sha1: s.checksum_sha1,
            checksum_sha256: s.checksum_sha256,
            checksum_type: s.kind,
            ..Default::default()
        };
        let status = if picked.is_some() {
            axum::http::StatusCode::PARTIAL_CONTENT
        } else {
            axum::http::StatusCode::OK
        };
        Ok(S3Response::with_status(output, status))
    }

    async fn delete_object(
        &self,
        req: S3Request<dto::DeleteObjectInput>,
    ) -> S3Result<S3Response<dto::DeleteObjectOutput>> {
        let origin = self.origin(&req);
        let input = req.input;
        if let Some(if_match) = &input.if_match {
            let current = self
                .buckets
                .object(&input.bucket, &input.key)
                .map_err(to_s3)?;
            read_conditions(&current, Some(if_match), None, None, None)?;
        }
        let gone = match &input.version_id {
            Some(version) => self
                .buckets
                .delete_version(&input.bucket, &input.key, version, &origin)
                .await
                .map_err(to_s3)?,
            None => self
                .buckets
                .delete_object(&input.bucket, &input.key, &origin)
                .await
                .map_err(to_s3)?,
        };
        let versioned = self
            .buckets
            .versioning(&input.bucket)
            .map_err(to_s3)?
            .is_some();
        // A delete marker made, or a version deleted for good, says so.
        let output = match gone {
            Some(o) if versioned && (o.delete_marker || input.version_id.is_some()) => {
                dto::DeleteObjectOutput {
                    delete_marker: o.delete_marker.then_some(true),
                    version_id: Some(o.version().to_owned()),
                    ..Default::default()
                }
            }
            _ => dto::DeleteObjectOutput::default(),
        };
        Ok(S3Response::with_status(
            output,
            axum::http::StatusCode::NO_CONTENT,
        ))
    }

    async fn delete_objects(
        &self,
        req: S3Request<dto::DeleteObjectsInput>,
    ) -> S3Result<S3Response<dto::DeleteObjectsOutput>> {
        let origin = self.origin(&req);
        let input = req.input;
        self.buckets.bucket(&input.bucket).map_err(to_s3)?;
        if input.delete.objects.len() > 1000 {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema"
            ));
        }
        let quiet = input.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for target in input.delete.objects {
            let result = match &target.version_id {
                Some(version) => {
                    self.buckets
                        .delete_version(&input.bucket, &target.key, version, &origin)
                        .await
                }
                None => {
                    self.buckets
                        .delete_object(&input.bucket, &target.key, &origin)
                        .await
                }
            };
            match result {
                Ok(gone) => {
                    if !quiet {
                        let marker = gone.as_ref().filter(|o| o.delete_marker);
                        deleted.push(dto::DeletedObject {
                            key: Some(target.key),
                            delete_marker: marker.map(|_| true),
                            delete_marker_version_id: marker
                                .filter(|_| target.version_id.is_none())
                                .map(|o| o.version().to_owned()),
                            version_id: target.version_id,
                        });
                    }
                }
                Err(error) => {
                    let e = to_s3(error);
                    errors.push(dto::Error {
                        code: Some(e.code().as_str().to_owned()),
                        key: Some(target.key),
                        message: e.message().map(str::to_owned),
                        version_id: target.version_id,
                    });
                }
            }
        }
        Ok(S3Response::new(dto::DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            ..Default::default()
        }))
    }

    async fn copy_object(
        &self,
        req: S3Request<dto::CopyObjectInput>,
    ) -> S3Result<S3Response<dto::CopyObjectOutput>> {
        let origin = self.origin(&req);
        let input = req.input;
        let source = self.copy_source(
            &input.copy_source,
            input.copy_source_if_match.as_ref(),
            input.copy_source_if_none_match.as_ref(),
            input.copy_source_if_modified_since.as_ref(),
            input.copy_source_if_unmodified_since.as_ref(),
        )?;
        let replace = input
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == dto::MetadataDirective::REPLACE);
        let replace_tags = input
            .tagging_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == dto::TaggingDirective::REPLACE);
        let same = source.bucket == *input.bucket && source.key == *input.key;
        if same && !replace && input.storage_class.is_none() && input.checksum_algorithm.is_none() {
            return Err(s3_error!(
                InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
            ));
        }
        let attributes = Attributes {
            content: if replace {
                content_of(
                    input.content_type,
                    input.content_encoding,
                    input.content_disposition,
                    input.content_language,
                    input.cache_control,
                    input.expires.as_ref(),
                    input.website_redirect_location,
                )
            } else {
                source.content.clone()
            },
            metadata: if replace {
                metadata(input.metadata)
            } else {
                source.metadata.clone()
            },
            tags: if replace_tags {
                tagging_header(input.tagging.as_deref())?
            } else {
                source.tags.clone()
            },
            storage_class: storage_class(input.storage_class.as_ref())?,
        };
        let conditions = Conditions::default();
        let object = self
            .buckets
            .copy_object(
                &source,
                &input.bucket,
                &input.key,
                attributes,
                algorithm(input.checksum_algorithm.as_ref())?,
                conditions,
                &origin,
            )
            .await
            .map_err(to_s3)?;
        let s = sums(&object);
        Ok(S3Response::new(dto::CopyObjectOutput {
            copy_object_result: Some(dto::CopyObjectResult {
                e_tag: Some(etag(&object.etag)),
                last_modified: Some(timestamp(object.last_modified_ms)),
                checksum_crc32: s.checksum_crc32,
                checksum_crc32c: s.checksum_crc32c,
                checksum_crc64nvme: s.checksum_crc64nvme,
                checksum_sha1: s.checksum_sha1,
                checksum_sha256: s.checksum_sha256,
                checksum_type: s.kind,
            }),
            ..Default::default()
        }))
    }

    async fn list_objects(
        &self,
        req: S3Request<dto::ListObjectsInput>,
    ) -> S3Result<S3Response<dto::ListObjectsOutput>> {
        let input = req.input;
        let url = input
            .encoding_type
            .as_ref()
            .is_some_and(|e| e.as_str() == "url");
        let query = Query {
            prefix: input.prefix.clone().unwrap_or_default(),
            delimiter: input.delimiter.clone(),
            after: input.marker.clone().filter(|m| !m.is_empty()),
            max_keys: max_keys(input.max_keys)?,
        };
        let page = self.buckets.list(&input.bucket, &query).map_err(to_s3)?;
        Ok(S3Response::new(dto::ListObjectsOutput {
            name: Some(input.bucket),
            prefix: Some(encode_key(&query.prefix, url)),
            marker: Some(input.marker.unwrap_or_default()),
            max_keys: Some(query.max_keys as i32),
            is_truncated: Some(page.truncated),
            // V1 gives NextMarker only with a delimiter; clients use the last key otherwise.
            next_marker: page
                .last
                .filter(|_| page.truncated && query.delimiter.is_some())
                .map(|m| encode_key(&m, url)),
            contents: Some(
                page.objects
                    .iter()
                    .map(|o| dto::Object {
                        key: Some(encode_key(&o.key, url)),
                        owner: Some(owner()),
                        ..list_entry(o)
                    })
                    .collect(),
            ),
            common_prefixes: (!page.common_prefixes.is_empty()).then(|| {
                page.common_prefixes
                    .iter()
                    .map(|p| dto::CommonPrefix {
                        prefix: Some(encode_key(p, url)),
                    })
                    .collect()
            }),
            delimiter: input.delimiter.map(|d| encode_key(&d, url)),
            encoding_type: input.encoding_type,
            request_charged: None,
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<dto::ListObjectsV2Input>,
    ) -> S3Result<S3Response<dto::ListObjectsV2Output>> {
        let input = req.input;
        let url = input
            .encoding_type
            .as_ref()
            .is_some_and(|e| e.as_str() == "url");
        let after = match &input.continuation_token {
            Some(token) => Some(decode_token(token).ok_or_else(|| {
                s3_error!(
                    InvalidArgument,
                    "The continuation token provided is incorrect"
                )
            })?),
            None => input.start_after.clone().filter(|s| !s.is_empty()),
        };
        let query = Query {
            prefix: input.prefix.clone().unwrap_or_default(),
            delimiter: input.delimiter.clone(),
            after,
            max_keys: max_keys(input.max_keys)?,
        };
        let page = self.buckets.list(&input.bucket, &query).map_err(to_s3)?;
        let fetch_owner = input.fetch_owner.unwrap_or(false);
        let count = page.objects.len() + page.common_prefixes.len();
        Ok(S3Response::new(dto::ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(encode_key(&query.prefix, url)),
            max_keys: Some(query.max_keys as i32),
            key_count: Some(count as i32),
            continuation_token: input.continuation_token,
            is_truncated: Some(page.truncated),
            next_continuation_token: page
                .last
                .filter(|_| page.truncated)
                .map(|last| encode_token(&last)),
            contents: (!page.objects.is_empty()).then(|| {
                page.objects
                    .iter()
                    .map(|o| dto::Object {
                        key: Some(encode_key(&o.key, url)),
                        owner: fetch_owner.then(owner),
                        ..list_entry(o)
                    })
                    .collect()
            }),
            common_prefixes: (!page.common_prefixes.is_empty()).then(|| {
                page.common_prefixes
                    .iter()
                    .map(|p| dto::CommonPrefix {
                        prefix: Some(encode_key(p, url)),
                    })
                    .collect()
            }),
            delimiter: input.delimiter.map(|d| encode_key(&d, url)),
            encoding_type: input.encoding_type,
            start_after: input.start_after.map(|s| encode_key(&s, url)),
            request_charged: None,
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<dto::CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<dto::CreateMultipartUploadOutput>> {
        let input = req.input;
        let attributes = Attributes {
            content: content_of(
                input.content_type,
                input.content_encoding,
                input.content_disposition,
                input.content_language,
                input.cache_control,
                input.expires.as_ref(),
                input.website_redirect_location,
            ),
            metadata: metadata(input.metadata),
            tags: tagging_header(input.tagging.as_deref())?,
            storage_class: storage_class(input.storage_class.as_ref())?,
        };
        let checksum_type = match &input.checksum_type {
            None => None,
            Some(t) => Some(ChecksumType::parse(t.as_str()).ok_or_else(|| {
                s3_error!(
                    InvalidRequest,
                    "Value for x-amz-checksum-type header is invalid."
                )
            })?),
        };
        let upload = self
            .buckets
            .create_upload(
                &input.bucket,
                &input.key,
                attributes,
                algorithm(input.checksum_algorithm.as_ref())?,
                checksum_type,
            )
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(dto::CreateMultipartUploadOutput {
            bucket: Some(upload.bucket),
            key: Some(upload.key),
            upload_id: Some(upload.id),
            checksum_algorithm: upload
                .algorithm
                .map(|a| dto::ChecksumAlgorithm::from(a.name().to_owned())),
            checksum_type: upload
                .checksum_type
                .map(|t| dto::ChecksumType::from(t.name().to_owned())),
            ..Default::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<dto::UploadPartInput>,
    ) -> S3Result<S3Response<dto::UploadPartOutput>> {
        let trailer = trailer(&req);
        let input = req.input;
        let integrity = Integrity {
            content_md5: input.content_md5,
            checksums: given_checksums(
                input.checksum_crc32,
                input.checksum_crc32c,
                input.checksum_crc64nvme,
                input.checksum_sha1,
                input.checksum_sha256,
            )?,
            algorithm: algorithm(input.checksum_algorithm.as_ref())?,
            trailer,
            length: input.content_length.and_then(|l| u64::try_from(l).ok()),
        };
        let number = u32::try_from(input.part_number).unwrap_or(0);
        // Refused before the body is read: read it anyway, so the connection stays usable.
        if let Err(error) = self
            .buckets
            .upload(&input.bucket, &input.key, &input.upload_id)
        {
            drain(input.body).await;
            return Err(to_s3(error));
        }
        let part = self
            .buckets
            .upload_part(
                &input.bucket,
                &input.key,
                &input.upload_id,
                number,
                integrity,
                body_stream(input.body),
            )
            .await
            .map_err(to_s3)?;
        let upload = self
            .buckets
            .upload(&input.bucket, &input.key, &input.upload_id)
            .ok();
        let mut output = dto::UploadPartOutput {
            e_tag: Some(etag(&part.etag)),
            ..Default::default()
        };
        if let Some(algorithm) = upload.and_then(|u| u.algorithm) {
            set_checksum!(output, algorithm, part.checksum);
        }
        Ok(S3Response::new(output))
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<dto::UploadPartCopyInput>,
    ) -> S3Result<S3Response<dto::UploadPartCopyOutput>> {
        let input = req.input;
        let source = self.copy_source(
            &input.copy_source,
            input.copy_source_if_match.as_ref(),
            input.copy_source_if_none_match.as_ref(),
            input.copy_source_if_modified_since.as_ref(),
            input.copy_source_if_unmodified_since.as_ref(),
        )?;
        let (start, len) = match &input.copy_source_range {
            None => (0, source.size),
            Some(range) => parse_copy_range(range, source.size)?,
        };
        let body = self
            .buckets
            .read(&source, start, len)
            .await
            .map_err(to_s3)?;
        let number = u32::try_from(input.part_number).unwrap_or(0);
        let part = self
            .buckets
            .upload_part(
                &input.bucket,
                &input.key,
                &input.upload_id,
                number,
                Integrity {
                    length: Some(len),
                    ..Integrity::default()
                },
                body,
            )
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(dto::UploadPartCopyOutput {
            copy_part_result: Some(dto::CopyPartResult {
                e_tag: Some(etag(&part.etag)),
                last_modified: Some(timestamp(part.last_modified_ms)),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<dto::CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<dto::CompleteMultipartUploadOutput>> {
        let origin = self.origin(&req);
        let input = req.input;
        let upload = self
            .buckets
            .upload(&input.bucket, &input.key, &input.upload_id)
            .map_err(to_s3)?;
        let parts: Vec<(u32, String, Option<String>)> = input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default()
            .into_iter()
            .map(|p| {
                let checksum = match upload.algorithm {
                    Some(Algorithm::Crc32) => p.checksum_crc32,
                    Some(Algorithm::Crc32c) => p.checksum_crc32c,
                    Some(Algorithm::Crc64Nvme) => p.checksum_crc64nvme,
                    Some(Algorithm::Sha1) => p.checksum_sha1,
                    Some(Algorithm::Sha256) => p.checksum_sha256,
                    None => None,
                };
                (
                    u32::try_from(p.part_number.unwrap_or(0)).unwrap_or(0),
                    p.e_tag.map(ETag::into_value).unwrap_or_default(),
                    checksum,
                )
            })
            .collect();
        let whole = given_checksums(
            input.checksum_crc32,
            input.checksum_crc32c,
            input.checksum_crc64nvme,
            input.checksum_sha1,
            input.checksum_sha256,
        )?
        .into_iter()
        .next();
        let conditions = write_conditions(input.if_match, input.if_none_match)?;
        let object = self
            .buckets
            .complete_upload(
                &input.bucket,
                &input.key,
                &input.upload_id,
                &parts,
                whole,
                conditions,
                &origin,
            )
            .await
            .map_err(to_s3)?;
        let s = sums(&object);
        Ok(S3Response::new(dto::CompleteMultipartUploadOutput {
            bucket: Some(input.bucket.clone()),
            key: Some(input.key.clone()),
            location: Some(format!(
                "{}/{}/{}",
                sluice_api::gateway::request_endpoint().unwrap_or_default(),
                input.bucket,
                input.key
            )),
            e_tag: Some(etag(&object.etag)),
            checksum_crc32: s.checksum_crc32,
            checksum_crc32c: s.checksum_crc32c,
            checksum_crc64nvme: s.checksum_crc64nvme,
            checksum_sha1: s.checksum_sha1,
            checksum_sha256: s.checksum_sha256,
            checksum_type: s.kind,
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<dto::AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<dto::AbortMultipartUploadOutput>> {
        let input = req.input;
        self.buckets
            .abort_upload(&input.bucket, &input.key, &input.upload_id)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::with_status(
            dto::AbortMultipartUploadOutput::default(),
            axum::http::StatusCode::NO_CONTENT,
        ))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<dto::ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<dto::ListMultipartUploadsOutput>> {
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let max = input
            .max_uploads
            .map_or(1000, |m| usize::try_from(m).unwrap_or(0).min(1000));
        let uploads: Vec<_> = self
            .buckets
            .uploads(&input.bucket)
            .map_err(to_s3)?
            .into_iter()
            .filter(|u| u.key.starts_with(&prefix))
            .filter(|u| match (&input.key_marker, &input.upload_id_marker) {
                (Some(k), Some(id)) => (&u.key, &u.id) > (k, id),
                (Some(k), None) => &u.key > k,
                _ => true,
            })
            .collect();
        let truncated = uploads.len() > max;
        let page: Vec<_> = uploads.into_iter().take(max).collect();
        Ok(S3Response::new(dto::ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: input.prefix,
            key_marker: input.key_marker,
            upload_id_marker: input.upload_id_marker,
            max_uploads: Some(max as i32),
            is_truncated: Some(truncated),
            next_key_marker: page.last().filter(|_| truncated).map(|u| u.key.clone()),
            next_upload_id_marker: page.last().filter(|_| truncated).map(|u| u.id.clone()),
            uploads: Some(
                page.into_iter()
                    .map(|u| dto::MultipartUpload {
                        key: Some(u.key),
                        upload_id: Some(u.id),
                        initiated: Some(timestamp(u.initiated_ms)),
                        storage_class: Some(dto::StorageClass::from(u.storage_class)),
                        owner: Some(owner()),
                        initiator: Some(dto::Initiator {
                            display_name: Some("sluice".into()),
                            id: Some(OWNER_ID.into()),
                        }),
                        checksum_algorithm: u
                            .algorithm
                            .map(|a| dto::ChecksumAlgorithm::from(a.name().to_owned())),
                        checksum_type: u
                            .checksum_type
                            .map(|t| dto::ChecksumType::from(t.name().to_owned())),
                    })
                    .collect(),
            ),
            ..Default::default()
        }))
    }

    async fn list_parts(
        &self,
        req: S3Request<dto::ListPartsInput>,
    ) -> S3Result<S3Response<dto::ListPartsOutput>> {
        let input = req.input;
        let upload = self
            .buckets
            .upload(&input.bucket, &input.key, &input.upload_id)
            .map_err(to_s3)?;
        let marker = input
            .part_number_marker
            .and_then(|m| u32::try_from(m).ok())
            .unwrap_or(0);
        let max = input
            .max_parts
            .map_or(1000, |m| usize::try_from(m).unwrap_or(0).min(1000));
        let parts: Vec<_> = upload.parts.iter().filter(|(n, _)| **n > marker).collect();
        let truncated = parts.len() > max;
        let page: Vec<_> = parts.into_iter().take(max).collect();
        Ok(S3Response::new(dto::ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            part_number_marker: Some(marker as i32),
            next_part_number_marker: page.last().map(|(n, _)| **n as i32),
            max_parts: Some(max as i32),
            is_truncated: Some(truncated),
            storage_class: Some(dto::StorageClass::from(upload.storage_class.clone())),
            owner: Some(owner()),
            initiator: Some(dto::Initiator {
                display_name: Some("sluice".into()),
                id: Some(OWNER_ID.into()),
            }),
            checksum_algorithm: upload
                .algorithm
                .map(|a| dto::ChecksumAlgorithm::from(a.name().to_owned())),
            checksum_type: upload
                .checksum_type
                .map(|t| dto::ChecksumType::from(t.name().to_owned())),
            parts: Some(
                page.into_iter()
                    .map(|(n, p)| {
                        let mut part = dto::Part {
                            part_number: Some(*n as i32),
                            e_tag: Some(etag(&p.etag)),
                            size: Some(i64::try_from(p.size).unwrap_or(i64::MAX)),
                            last_modified: Some(timestamp(p.last_modified_ms)),
                            ..Default::default()
                        };
                        if let Some(a) = upload.algorithm {
                            set_checksum!(part, a, p.checksum.clone());
                        }
                        part
                    })
                    .collect(),
            ),
            ..Default::default()
        }))
    }

    async fn get_object_tagging(
        &self,
        req: S3Request<dto::GetObjectTaggingInput>,
    ) -> S3Result<S3Response<dto::GetObjectTaggingOutput>> {
        let object = self
            .buckets
            .object(&req.input.bucket, &req.input.key)
            .map_err(to_s3)?;
        Ok(S3Response::new(dto::GetObjectTaggingOutput {
            tag_set: tag_set(&object.tags),
            version_id: None,
        }))
    }

    async fn put_object_tagging(
        &self,
        req: S3Request<dto::PutObjectTaggingInput>,
    ) -> S3Result<S3Response<dto::PutObjectTaggingOutput>> {
        let input = req.input;
        let tags = tags_of(input.tagging)?;
        self.buckets
            .put_object_tags(&input.bucket, &input.key, tags)
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(dto::PutObjectTaggingOutput::default()))
    }

    async fn delete_object_tagging(
        &self,
        req: S3Request<dto::DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<dto::DeleteObjectTaggingOutput>> {
        let input = req.input;
        self.buckets
            .put_object_tags(&input.bucket, &input.key, BTreeMap::new())
            .await
            .map_err(to_s3)?;
        Ok(S3Response::with_status(
            dto::DeleteObjectTaggingOutput::default(),
            axum::http::StatusCode::NO_CONTENT,
        ))
    }

    async fn get_bucket_tagging(
        &self,
        req: S3Request<dto::GetBucketTaggingInput>,
    ) -> S3Result<S3Response<dto::GetBucketTaggingOutput>> {
        let info = self.buckets.bucket(&req.input.bucket).map_err(to_s3)?;
        if info.tags.is_empty() {
            return Err(s3_error!(NoSuchTagSet, "The TagSet does not exist"));
        }
        Ok(S3Response::new(dto::GetBucketTaggingOutput {
            tag_set: tag_set(&info.tags),
        }))
    }

    async fn put_bucket_tagging(
        &self,
        req: S3Request<dto::PutBucketTaggingInput>,
    ) -> S3Result<S3Response<dto::PutBucketTaggingOutput>> {
        let input = req.input;
        let mut tags = BTreeMap::new();
        for tag in input.tagging.tag_set {
            let key = tag.key.unwrap_or_default();
            if tags.insert(key, tag.value.unwrap_or_default()).is_some() {
                return Err(s3_error!(
                    InvalidTag,
                    "Cannot provide multiple Tags with the same key"
                ));
            }
        }
        if tags.len() > 50 {
            return Err(s3_error!(
                InvalidTag,
                "Bucket tag count cannot be greater than 50"
            ));
        }
        self.buckets
            .update_bucket(&input.bucket, |info| {
                info.tags = tags;
                Ok(())
            })
            .await
            .map_err(to_s3)?;
        Ok(S3Response::with_status(
            dto::PutBucketTaggingOutput::default(),
            axum::http::StatusCode::NO_CONTENT,
        ))
    }

    async fn delete_bucket_tagging(
        &self,
        req: S3Request<dto::DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<dto::DeleteBucketTaggingOutput>> {
        self.buckets
            .update_bucket(&req.input.bucket, |info| {
                info.tags.clear();
                Ok(())
            })
            .await
            .map_err(to_s3)?;
        Ok(S3Response::with_status(
            dto::DeleteBucketTaggingOutput::default(),
            axum::http::StatusCode::NO_CONTENT,
        ))
    }

    async fn put_bucket_notification_configuration(
        &self,
        req: S3Request<dto::PutBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<dto::PutBucketNotificationConfigurationOutput>> {
        let input = req.input;
        self.buckets.bucket(&input.bucket).map_err(to_s3)?;
        let config = notifications_of(input.notification_configuration)?;
        if let Some(reason) = notify::config_error(&config) {
            return Err(S3Error::with_message(S3ErrorCode::InvalidArgument, reason));
        }
        if !input.skip_destination_validation.unwrap_or(false) {
            self.validate_destinations(&input.bucket, &config).await?;
        }
        let value = serde_json::to_value(&config).expect("configurations serialize");
        self.buckets
            .update_bucket(&input.bucket, |info| {
                if config.rules.is_empty() && !config.event_bridge {
                    info.settings.remove(notify::SETTING);
                } else {
                    info.settings.insert(notify::SETTING.into(), value);
                }
                Ok(())
            })
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(
            dto::PutBucketNotificationConfigurationOutput::default(),
        ))
    }

    async fn get_bucket_notification_configuration(
        &self,
        req: S3Request<dto::GetBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<dto::GetBucketNotificationConfigurationOutput>> {
        let info = self.buckets.bucket(&req.input.bucket).map_err(to_s3)?;
        let config: Notifications = info
            .settings
            .get(notify::SETTING)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        let filter = |rule: &Rule| {
            let mut rules = Vec::new();
            if let Some(p) = &rule.prefix {
                rules.push(dto::FilterRule {
                    name: Some(dto::FilterRuleName::from("Prefix".to_owned())),
                    value: Some(p.clone()),
                });
            }
            if let Some(sfx) = &rule.suffix {
                rules.push(dto::FilterRule {
                    name: Some(dto::FilterRuleName::from("Suffix".to_owned())),
                    value: Some(sfx.clone()),
                });
            }
            (!rules.is_empty()).then_some(dto::NotificationConfigurationFilter {
                key: Some(dto::S3KeyFilter {
                    filter_rules: Some(rules),
                }),
            })
        };
        let events = |rule: &Rule| {
            rule.events
                .iter()
                .map(|e| dto::Event::from(e.clone()))
                .collect()
        };
        let of = |kind| config.rules.iter().filter(move |r: &&Rule| r.kind == kind);
        let queues: Vec<_> = of(notify::Kind::Queue)
            .map(|r| dto::QueueConfiguration {
                events: events(r),
                filter: filter(r),
                id: Some(r.id.clone()),
                queue_arn: r.arn.clone(),
            })
            .collect();
        let topics: Vec<_> = of(notify::Kind::Topic)
            .map(|r| dto::TopicConfiguration {
                events: events(r),
                filter: filter(r),
                id: Some(r.id.clone()),
                topic_arn: r.arn.clone(),
            })
            .collect();
        let functions: Vec<_> = of(notify::Kind::Function)
            .map(|r| dto::LambdaFunctionConfiguration {
                events: events(r),
                filter: filter(r),
                id: Some(r.id.clone()),
                lambda_function_arn: r.arn.clone(),
            })
            .collect();
        Ok(S3Response::new(
            dto::GetBucketNotificationConfigurationOutput {
                queue_configurations: (!queues.is_empty()).then_some(queues),
                topic_configurations: (!topics.is_empty()).then_some(topics),
                lambda_function_configurations: (!functions.is_empty()).then_some(functions),
                event_bridge_configuration: config
                    .event_bridge
                    .then_some(dto::EventBridgeConfiguration {}),
            },
        ))
    }

    async fn get_object_attributes(
        &self,
        req: S3Request<dto::GetObjectAttributesInput>,
    ) -> S3Result<S3Response<dto::GetObjectAttributesOutput>> {
        let input = req.input;
        if input.version_id.as_deref().is_some_and(|v| v != "null") {
            return Err(s3_error!(
                NoSuchVersion,
                "The specified version does not exist."
            ));
        }
        let object = self
            .buckets
            .object(&input.bucket, &input.key)
            .map_err(to_s3)?;
        // One header, `ETag,ObjectSize`, or several.
        let wants = |name: &str| {
            input
                .object_attributes
                .iter()
                .flat_map(|a| a.as_str().split(','))
                .any(|a| a.trim() == name)
        };
        let mut output = dto::GetObjectAttributesOutput {
            last_modified: Some(timestamp(object.last_modified_ms)),
            ..Default::default()
        };
        if wants(dto::ObjectAttributes::ETAG) {
            output.e_tag = Some(etag(&object.etag));
        }
        if wants(dto::ObjectAttributes::OBJECT_SIZE) {
            output.object_size = Some(i64::try_from(object.size).unwrap_or(i64::MAX));
        }
        if wants(dto::ObjectAttributes::STORAGE_CLASS) {
            output.storage_class = Some(dto::StorageClass::from(object.storage_class.clone()));
        }
        if wants(dto::ObjectAttributes::CHECKSUM) {
            let s = sums(&object);
            output.checksum = object.checksum.as_ref().map(|_| dto::Checksum {
                checksum_crc32: s.checksum_crc32,
                checksum_crc32c: s.checksum_crc32c,
                checksum_crc64nvme: s.checksum_crc64nvme,
                checksum_sha1: s.checksum_sha1,
                checksum_sha256: s.checksum_sha256,
                checksum_type: s.kind,
            });
        }
        if wants(dto::ObjectAttributes::OBJECT_PARTS) && !object.parts.is_empty() {
            let marker = input
                .part_number_marker
                .and_then(|m| usize::try_from(m).ok())
                .unwrap_or(0);
            let max = input
                .max_parts
                .map_or(1000, |m| usize::try_from(m).unwrap_or(0).min(1000));
            let algorithm = object.checksum.as_ref().map(|c| c.algorithm);
            let parts: Vec<dto::ObjectPart> = object
                .parts
                .iter()
                .enumerate()
                .skip(marker)
                .take(max)
                .map(|(i, p)| {
                    let mut part = dto::ObjectPart {
                        part_number: Some(i as i32 + 1),
                        size: Some(i64::try_from(p.size).unwrap_or(i64::MAX)),
                        ..Default::default()
                    };
                    if let Some(a) = algorithm {
                        set_checksum!(part, a, p.checksum.clone());
                    }
                    part
                })
                .collect();
            let last = marker + parts.len();
            let truncated = last < object.parts.len();
            output.object_parts = Some(dto::GetObjectAttributesParts {
                total_parts_count: Some(object.parts.len() as i32),
                part_number_marker: Some(marker as i32),
                next_part_number_marker: Some(last as i32),
                max_parts: Some(max as i32),
                is_truncated: Some(truncated),
                parts: Some(parts),
            });
        }
        Ok(S3Response::new(output))
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<dto::GetBucketVersioningInput>,
    ) -> S3Result<S3Response<dto::GetBucketVersioningOutput>> {
        let status = self.buckets.versioning(&req.input.bucket).map_err(to_s3)?;
        Ok(S3Response::new(dto::GetBucketVersioningOutput {
            status: status.map(|s| {
                dto::BucketVersioningStatus::from(
                    match s {
                        sluice_buckets::Versioning::Enabled => "Enabled",
                        sluice_buckets::Versioning::Suspended => "Suspended",
                    }
                    .to_owned(),
                )
            }),
            mfa_delete: None,
        }))
    }

    async fn put_bucket_versioning(
        &self,
        req: S3Request<dto::PutBucketVersioningInput>,
    ) -> S3Result<S3Response<dto::PutBucketVersioningOutput>> {
        let input = req.input;
        let status = match input
            .versioning_configuration
            .status
            .as_ref()
            .map(|s| s.as_str())
        {
            Some(s @ ("Enabled" | "Suspended")) => s.to_owned(),
            _ => {
                return Err(s3_error!(
                    MalformedXML,
                    "The XML you provided was not well-formed or did not validate against our published schema"
                ));
            }
        };
        self.buckets
            .update_bucket(&input.bucket, |info| {
                info.settings.insert(
                    sluice_buckets::VERSIONING.into(),
                    serde_json::Value::String(status),
                );
                Ok(())
            })
            .await
            .map_err(to_s3)?;
        Ok(S3Response::new(dto::PutBucketVersioningOutput::default()))
    }

    async fn list_object_versions(
        &self,
        req: S3Request<dto::ListObjectVersionsInput>,
    ) -> S3Result<S3Response<dto::ListObjectVersionsOutput>> {
        let input = req.input;
        let max = max_keys(input.max_keys)?;
        let (entries, truncated) = self
            .buckets
            .versions_page(
                &input.bucket,
                input.prefix.as_deref().unwrap_or_default(),
                input.key_marker.as_deref().filter(|m| !m.is_empty()),
                input.version_id_marker.as_deref().filter(|m| !m.is_empty()),
                max,
            )
            .map_err(to_s3)?;
        let (mut versions, mut markers) = (Vec::new(), Vec::new());
        for (o, latest) in &entries {
            if o.delete_marker {
                markers.push(dto::DeleteMarkerEntry {
                    is_latest: Some(*latest),
                    key: Some(o.key.clone()),
                    last_modified: Some(timestamp(o.last_modified_ms)),
                    owner: Some(owner()),
                    version_id: Some(o.version().to_owned()),
                });
            } else {
                let entry = list_entry(o);
                versions.push(dto::ObjectVersion {
                    checksum_algorithm: entry.checksum_algorithm,
                    checksum_type: entry.checksum_type,
                    e_tag: entry.e_tag,
                    is_latest: Some(*latest),
                    key: entry.key,
                    last_modified: entry.last_modified,
                    owner: Some(owner()),
                    restore_status: None,
                    size: entry.size,
                    storage_class: Some(dto::ObjectVersionStorageClass::from(
                        "STANDARD".to_owned(),
                    )),
                    version_id: Some(o.version().to_owned()),
                });
            }
        }
        let last = entries.last().filter(|_| truncated).map(|(o, _)| o);
        Ok(S3Response::new(dto::ListObjectVersionsOutput {
            name: Some(input.bucket),
            prefix: input.prefix,
            key_marker: input.key_marker,
            version_id_marker: input.version_id_marker,
            max_keys: Some(max as i32),
            is_truncated: Some(truncated),
            next_key_marker: last.map(|o| o.key.clone()),
            next_version_id_marker: last.map(|o| o.version().to_owned()),
            versions: (!versions.is_empty()).then_some(versions),
            delete_markers: (!markers.is_empty()).then_some(markers),
            ..Default::default()
        }))
    }
}

impl<S: Store> S3Backend<S> {
    /// The object a copy reads (the version its source names), once its conditions hold: a
    /// failed one is always 412, even where a read would answer 304.
    fn copy_source(
        &self,
        source: &dto::CopySource,
        if_match: Option<&ETagCondition>,
        if_none_match: Option<&ETagCondition>,
        if_modified_since: Option<&Timestamp>,
        if_unmodified_since: Option<&Timestamp>,
    ) -> S3Result<Arc<Object>> {
        let dto::CopySource::Bucket {
            bucket,
            key,
            version_id,
        } = source
        else {
            return Err(s3_error!(
                NotImplemented,
                "Copying from an access point is not supported"
            ));
        };
        let object = match version_id {
            Some(version) => self.buckets.object_version(bucket, key, version),
            None => self.buckets.object(bucket, key),
        }
        .map_err(to_s3)?;
        read_conditions(
            &object,
            if_match,
            if_none_match,
            if_modified_since,
            if_unmodified_since,
        )
        .map_err(|_| s3_error!(PreconditionFailed))?;
        Ok(object)
    }

    /// Sends the test event to every queue and topic of `config`, as S3 does when a
    /// configuration is put: a destination that does not take it is refused.
    async fn validate_destinations(&self, bucket: &str, config: &Notifications) -> S3Result<()> {
        let Some(targets) = &self.targets else {
            return Ok(());
        };
        let request_id = sluice_api::request_id::current();
        let mut failed = Vec::new();
        for rule in &config.rules {
            if rule.kind == notify::Kind::Function {
                continue;
            }
            let delivery = Delivery {
                arn: rule.arn.clone(),
                payload: notify::test_event(bucket, self.buckets.now_ms(), &request_id),
                idempotency_key: format!("{request_id}-{}", rule.id),
                message_group_id: Some("s3-test-event".into()),
                ..Delivery::default()
            };
            if let Err(error) = targets.deliver(&delivery).await {
                tracing::debug!(arn = rule.arn, %error, "notification destination refused the test event");
                failed.push(rule.arn.clone());
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                format!(
                    "Unable to validate the following destination configurations: {}",
                    failed.join(", ")
                ),
            ))
        }
    }
}

/// A configuration as the API gives it, as the buckets keep it.
fn notifications_of(config: dto::NotificationConfiguration) -> S3Result<Notifications> {
    let mut rules = Vec::new();
    let filter_of = |filter: Option<dto::NotificationConfigurationFilter>| -> S3Result<(Option<String>, Option<String>)> {
        let (mut prefix, mut suffix) = (None, None);
        for rule in filter.and_then(|f| f.key).and_then(|k| k.filter_rules).unwrap_or_default() {
            let name = rule.name.as_ref().map(|n| n.as_str().to_ascii_lowercase());
            let slot = match name.as_deref() {
                Some("prefix") => &mut prefix,
                Some("suffix") => &mut suffix,
                _ => {
                    return Err(S3Error::with_message(
                        S3ErrorCode::InvalidArgument,
                        "filter rule name must be either prefix or suffix",
                    ));
                }
            };
            if slot.is_some() {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    "Cannot specify more than one prefix rule in a filter.",
                ));
            }
            *slot = Some(rule.value.unwrap_or_default());
        }
        Ok((prefix, suffix))
    };
    let mut add =
        |kind, id: Option<String>, arn: String, events: Vec<dto::Event>, filter| -> S3Result<()> {
            let (prefix, suffix) = filter_of(filter)?;
            rules.push(Rule {
                id: id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                kind,
                arn,
                events: events.into_iter().map(|e| e.as_ref().to_owned()).collect(),
                prefix,
                suffix,
            });
            Ok(())
        };
    for q in config.queue_configurations.unwrap_or_default() {
        add(notify::Kind::Queue, q.id, q.queue_arn, q.events, q.filter)?;
    }
    for t in config.topic_configurations.unwrap_or_default() {
        add(notify::Kind::Topic, t.id, t.topic_arn, t.events, t.filter)?;
    }
    for f in config.lambda_function_configurations.unwrap_or_default() {
        add(
            notify::Kind::Function,
            f.id,
            f.lambda_function_arn,
            f.events,
            f.filter,
        )?;
    }
    Ok(Notifications {
        rules,
        event_bridge: config.event_bridge_configuration.is_some(),
    })
}

/// The one owner of every bucket (the server's account).
const OWNER_ID: &str = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a";

fn owner() -> dto::Owner {
    dto::Owner {
        display_name: Some("sluice".into()),
        id: Some(OWNER_ID.into()),
    }
}

/// `x-amz-copy-source-range: bytes=first-last` within an object of `size` bytes.
fn parse_copy_range(range: &str, size: u64) -> S3Result<(u64, u64)> {
    let invalid = || {
        s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
        )
    };
    let (first, last) = range
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .ok_or_else(invalid)?;
    let (first, last): (u64, u64) = (
        first.parse().map_err(|_| invalid())?,
        last.parse().map_err(|_| invalid())?,
    );
    if first > last || last >= size {
        return Err(s3_error!(
            InvalidRange,
            "The requested range is not satisfiable"
        ));
    }
    Ok((first, last - first + 1))
}

/// ListObjectsV2's continuation token: the last key or common prefix of the page, opaque.
pub(crate) fn encode_token(last: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(last)
}

pub(crate) fn decode_token(token: &str) -> Option<String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// The backend as the gateway serves it.
pub fn router<S: Store>(backend: S3Backend<S>) -> axum::Router {
    sluice_api::s3_routes::router(backend)
}
