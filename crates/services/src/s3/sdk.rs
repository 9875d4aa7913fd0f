//! S3 as an AWS SDK service for Task states (`arn:aws:states:::aws-sdk:s3:getObject`) and for
//! the Distributed Map's item reader and result writer: operations by name with PascalCase
//! JSON members, as Step Functions passes them. Bodies are text (`Body` in and out), as in
//! AWS's SDK integration; timestamps are ISO 8601.

use std::collections::BTreeMap;

use futures_util::TryStreamExt as _;
use serde_json::{Map, Value, json};
use sluice_api::ApiError;
use sluice_buckets::notify::iso_time;
use sluice_buckets::{Attributes, Buckets, Conditions, Error, Integrity, Object, Origin, Query};
use sluice_store::Store;

use super::{decode_token, encode_token};
use crate::integrations::aws_sdk::{CallFuture, JsonService};

/// The largest object `GetObject` returns as a task's text (the payload quota bounds it anyway).
const MAX_BODY: u64 = 256 * 1024 * 1024;

/// S3 for in-process callers.
pub struct S3Sdk<S: Store> {
    buckets: Buckets<S>,
    account: String,
}

impl<S: Store> S3Sdk<S> {
    pub fn new(buckets: Buckets<S>, account: impl Into<String>) -> Self {
        Self {
            buckets,
            account: account.into(),
        }
    }

    fn origin(&self) -> Origin {
        Origin {
            principal: format!("AWS:{}", self.account),
            source_ip: "127.0.0.1".into(),
            request_id: uuid::Uuid::new_v4().to_string(),
            account: self.account.clone(),
        }
    }

    async fn handle(&self, operation: &str, input: Map<String, Value>) -> Result<Value, ApiError> {
        let text = |name: &str| -> Result<String, ApiError> {
            input
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| {
                    ApiError::new(
                        "InvalidRequest",
                        format!("Missing required parameter: {name}"),
                    )
                    .with_status(400)
                })
        };
        let optional = |name: &str| input.get(name).and_then(Value::as_str).map(str::to_owned);
        match operation {
            "GetObject" => {
                let (bucket, key) = (text("Bucket")?, text("Key")?);
                let object = self.buckets.object(&bucket, &key).map_err(api_error)?;
                if object.size > MAX_BODY {
                    return Err(ApiError::new(
                        "InvalidRequest",
                        format!("The object is larger than {MAX_BODY} bytes"),
                    ));
                }
                let stream = self
                    .buckets
                    .read(&object, 0, object.size)
                    .await
                    .map_err(api_error)?;
                let bytes: Vec<u8> = stream
                    .map_ok(|b| b.to_vec())
                    .try_concat()
                    .await
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                let mut out = describe(&object);
                out.insert(
                    "Body".into(),
                    Value::String(String::from_utf8_lossy(&bytes).into_owned()),
                );
                Ok(Value::Object(out))
            }
            "HeadObject" => {
                let (bucket, key) = (text("Bucket")?, text("Key")?);
                let object = self.buckets.object(&bucket, &key).map_err(api_error)?;
                Ok(Value::Object(describe(&object)))
            }
            "PutObject" => {
                let (bucket, key) = (text("Bucket")?, text("Key")?);
                let body = match input.get("Body") {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s.clone(),
                    // A JSON body is written as its text, as the SDK integration does.
                    Some(other) => other.to_string(),
                };
                let metadata: BTreeMap<String, String> = input
                    .get("Metadata")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| {
                                (
                                    k.to_ascii_lowercase(),
                                    v.as_str().unwrap_or_default().to_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let attributes = Attributes {
                    content: sluice_buckets::Content {
                        content_type: optional("ContentType"),
                        ..Default::default()
                    },
                    metadata,
                    ..Default::default()
                };
                let bytes = bytes::Bytes::from(body.into_bytes());
                let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes)]);
                let object = self
                    .buckets
                    .put_object(
                        &bucket,
                        &key,
                        attributes,
                        Integrity::default(),
                        Conditions::default(),
                        stream,
                        &self.origin(),
                    )
                    .await
                    .map_err(api_error)?;
                let mut out = Map::new();
                out.insert("ETag".into(), json!(object.etag));
                if let Some(c) = &object.checksum {
                    out.insert(format!("Checksum{}", c.algorithm.name()), json!(c.value));
                    out.insert("ChecksumType".into(), json!(c.kind.name()));
                }
                Ok(Value::Object(out))
            }
            "DeleteObject" => {
                let (bucket, key) = (text("Bucket")?, text("Key")?);
                self.buckets
                    .delete_object(&bucket, &key, &self.origin())
                    .await
                    .map_err(api_error)?;
                Ok(json!({}))
            }
            "CopyObject" => {
                let (bucket, key, source) = (text("Bucket")?, text("Key")?, text("CopySource")?);
                let source = source.trim_start_matches('/');
                let (from_bucket, from_key) = source.split_once('/').ok_or_else(|| {
                    ApiError::new("InvalidArgument", "Invalid copy source object key")
                })?;
                let from_key = sluice_api::rest::percent_decode(from_key, false);
                let from = self
                    .buckets
                    .object(from_bucket, &from_key)
                    .map_err(api_error)?;
                let object = self
                    .buckets
                    .copy_object(
                        &from,
                        &bucket,
                        &key,
                        Attributes {
                            content: from.content.clone(),
                            metadata: from.metadata.clone(),
                            tags: from.tags.clone(),
                            storage_class: None,
                        },
                        None,
                        Conditions::default(),
                        &self.origin(),
                    )
                    .await
                    .map_err(api_error)?;
                Ok(json!({"CopyObjectResult": {
                    "ETag": object.etag,
                    "LastModified": iso_seconds(object.last_modified_ms),
                }}))
            }
            "ListObjectsV2" => {
                let bucket = text("Bucket")?;
                let max = input
                    .get("MaxKeys")
                    .and_then(Value::as_u64)
                    .map_or(1000, |m| m.min(1000) as usize);
                let token = optional("ContinuationToken");
                let after = match &token {
                    Some(t) => Some(decode_token(t).ok_or_else(|| {
                        ApiError::new(
                            "InvalidArgument",
                            "The continuation token provided is incorrect",
                        )
                    })?),
                    None => optional("StartAfter"),
                };
                let query = Query {
                    prefix: optional("Prefix").unwrap_or_default(),
                    delimiter: optional("Delimiter"),
                    after,
                    max_keys: max,
                };
                let page = self.buckets.list(&bucket, &query).map_err(api_error)?;
                let mut out = Map::new();
                out.insert("Name".into(), json!(bucket));
                out.insert("Prefix".into(), json!(query.prefix));
                out.insert("MaxKeys".into(), json!(max));
                out.insert(
                    "KeyCount".into(),
                    json!(page.objects.len() + page.common_prefixes.len()),
                );
                out.insert("IsTruncated".into(), json!(page.truncated));
                if !page.objects.is_empty() {
                    let contents: Vec<Value> = page
                        .objects
                        .iter()
                        .map(|o| {
                            json!({
                                "Key": o.key,
                                "Size": o.size,
                                "ETag": o.etag,
                                "LastModified": iso_seconds(o.last_modified_ms),
                                "StorageClass": o.storage_class,
                            })
                        })
                        .collect();
                    out.insert("Contents".into(), Value::Array(contents));
                }
                if !page.common_prefixes.is_empty() {
                    let prefixes: Vec<Value> = page
                        .common_prefixes
                        .iter()
                        .map(|p| json!({"Prefix": p}))
                        .collect();
                    out.insert("CommonPrefixes".into(), Value::Array(prefixes));
                }
                if let Some(token) = token {
                    out.insert("ContinuationToken".into(), json!(token));
                }
                if let Some(last) = page.last.filter(|_| page.truncated) {
                    out.insert("NextContinuationToken".into(), json!(encode_token(&last)));
                }
                Ok(Value::Object(out))
            }
            "ListBuckets" => {
                let buckets: Vec<Value> = self
                    .buckets
                    .buckets()
                    .into_iter()
                    .map(|b| json!({"Name": b.name, "CreationDate": iso_seconds(b.created_ms), "BucketRegion": b.region}))
                    .collect();
                Ok(json!({"Buckets": buckets}))
            }
            "CreateBucket" => {
                let bucket = text("Bucket")?;
                let region = input
                    .get("CreateBucketConfiguration")
                    .and_then(|c| c.get("LocationConstraint"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(sluice_api::gateway::signed_region)
                    .unwrap_or_else(|| "us-east-1".into());
                self.buckets
                    .create_bucket(&bucket, &region)
                    .await
                    .map_err(api_error)?;
                Ok(json!({"Location": format!("/{bucket}")}))
            }
            "DeleteBucket" => {
                self.buckets
                    .delete_bucket(&text("Bucket")?)
                    .await
                    .map_err(api_error)?;
                Ok(json!({}))
            }
            other => Err(ApiError::unsupported_operation(other)),
        }
    }
}

impl<S: Store> crate::lambda::CodeSource for S3Sdk<S> {
    fn fetch<'a>(&'a self, bucket: &'a str, key: &'a str) -> crate::lambda::CodeFuture<'a> {
        Box::pin(async move {
            let failed = |e: Error| {
                let e = api_error(e);
                (e.kind, e.message)
            };
            let object = self.buckets.object(bucket, key).map_err(failed)?;
            let stream = self
                .buckets
                .read(&object, 0, object.size)
                .await
                .map_err(failed)?;
            stream
                .map_ok(|b| b.to_vec())
                .try_concat()
                .await
                .map_err(|e| ("InternalError".to_owned(), e.to_string()))
        })
    }
}

impl<S: Store> JsonService for S3Sdk<S> {
    fn call(&self, operation: String, body: Vec<u8>) -> CallFuture<'_> {
        Box::pin(async move {
            let input: Map<String, Value> = if body.is_empty() {
                Map::new()
            } else {
                serde_json::from_slice(&body).map_err(|e| ApiError::serialization(e.to_string()))?
            };
            let out = self.handle(&operation, input).await?;
            Ok(serde_json::to_vec(&out).expect("values serialize"))
        })
    }
}

/// What GetObject and HeadObject answer besides the body.
fn describe(object: &Object) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("AcceptRanges".into(), json!("bytes"));
    out.insert("ContentLength".into(), json!(object.size));
    out.insert(
        "ContentType".into(),
        json!(
            object
                .content
                .content_type
                .clone()
                .unwrap_or_else(|| "binary/octet-stream".into())
        ),
    );
    out.insert("ETag".into(), json!(object.etag));
    out.insert(
        "LastModified".into(),
        json!(iso_seconds(object.last_modified_ms)),
    );
    out.insert("Metadata".into(), json!(object.metadata));
    if object.storage_class != "STANDARD" {
        out.insert("StorageClass".into(), json!(object.storage_class));
    }
    out
}

/// `2026-12-07T12:00:00Z`: the SDK's timestamps have whole seconds.
fn iso_seconds(ms: i64) -> String {
    let full = iso_time(ms);
    format!("{}Z", &full[..19])
}

fn api_error(error: Error) -> ApiError {
    let (kind, status) = match &error {
        Error::NoSuchBucket(_) => ("NoSuchBucket", 404),
        Error::NoSuchKey(_) => ("NoSuchKey", 404),
        Error::NoSuchUpload(_) => ("NoSuchUpload", 404),
        Error::BucketAlreadyOwnedByYou(_) => ("BucketAlreadyOwnedByYou", 409),
        Error::BucketNotEmpty(_) => ("BucketNotEmpty", 409),
        Error::InvalidBucketName(..) => ("InvalidBucketName", 400),
        Error::PreconditionFailed(_) => ("PreconditionFailed", 412),
        Error::EntityTooLarge => ("EntityTooLarge", 400),
        Error::Storage(_) => ("InternalError", 500),
        _ => ("InvalidRequest", 400),
    };
    ApiError::new(kind, error.to_string()).with_status(status)
}

/// Large execution payloads kept as objects of one bucket (created when first needed).
pub struct PayloadBucket<S: Store> {
    buckets: Buckets<S>,
    bucket: String,
    region: String,
    account: String,
}

impl<S: Store> PayloadBucket<S> {
    pub fn new(
        buckets: Buckets<S>,
        bucket: impl Into<String>,
        region: impl Into<String>,
        account: impl Into<String>,
    ) -> Self {
        Self {
            buckets,
            bucket: bucket.into(),
            region: region.into(),
            account: account.into(),
        }
    }
}

impl<S: Store> sluice_engine::payloads::PayloadStore for PayloadBucket<S> {
    fn put<'a>(
        &'a self,
        key: &'a str,
        text: &'a str,
    ) -> sluice_engine::payloads::PayloadFuture<'a, String> {
        Box::pin(async move {
            if self.buckets.bucket(&self.bucket).is_err() {
                match self.buckets.create_bucket(&self.bucket, &self.region).await {
                    Ok(_) | Err(Error::BucketAlreadyOwnedByYou(_)) => {}
                    Err(error) => return Err(error.to_string()),
                }
            }
            let body = bytes::Bytes::copy_from_slice(text.as_bytes());
            let origin = Origin {
                principal: format!("AWS:{}", self.account),
                source_ip: "127.0.0.1".into(),
                request_id: uuid::Uuid::new_v4().to_string(),
                account: self.account.clone(),
            };
            let attributes = Attributes {
                content: sluice_buckets::Content {
                    content_type: Some("application/json".into()),
                    ..Default::default()
                },
                ..Default::default()
            };
            self.buckets
                .put_object(
                    &self.bucket,
                    key,
                    attributes,
                    Integrity::default(),
                    Conditions::default(),
                    futures_util::stream::iter([Ok::<_, std::io::Error>(body)]),
                    &origin,
                )
                .await
                .map_err(|e| e.to_string())?;
            Ok(format!("s3://{}/{key}", self.bucket))
        })
    }

    fn get<'a>(&'a self, uri: &'a str) -> sluice_engine::payloads::PayloadFuture<'a, String> {
        Box::pin(async move {
            let (bucket, key) = uri
                .strip_prefix("s3://")
                .and_then(|rest| rest.split_once('/'))
                .ok_or_else(|| format!("not an s3:// URI: {uri}"))?;
            let object = self
                .buckets
                .object(bucket, key)
                .map_err(|e| format!("{uri}: {e}"))?;
            let stream = self
                .buckets
                .read(&object, 0, object.size)
                .await
                .map_err(|e| format!("{uri}: {e}"))?;
            let bytes: Vec<u8> = stream
                .map_ok(|b| b.to_vec())
                .try_concat()
                .await
                .map_err(|e| format!("{uri}: {e}"))?;
            String::from_utf8(bytes).map_err(|e| format!("{uri}: {e}"))
        })
    }
}
