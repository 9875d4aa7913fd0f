//! The Kinesis API over [`Streams`]: AWS's shapes in and out, AWS's errors.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sluice_api::ApiError;
use sluice_api::kinesis::Kinesis;
use sluice_api::kinesis::model::*;
use sluice_store::Store;
use sluice_streams::{Description, Error, Mode, NewRecord, Start, Streams};

/// Most records one PutRecords takes, and most data (AWS: 500 records, 10 MiB).
const MAX_PUT_RECORDS_BYTES: usize = 10 * 1024 * 1024;
/// Most tags on a stream (AWS: 50).
const MAX_TAGS: usize = 50;
/// Most enhanced fan-out consumers of a stream (AWS: 20).
const MAX_CONSUMERS: usize = 20;
/// DescribeLimits' shard quota of an account (AWS's default in the largest regions).
const SHARD_LIMIT: i32 = 500;
/// DescribeLimits' quota of on-demand streams (AWS's default).
const ON_DEMAND_STREAM_LIMIT: i32 = 50;

fn metric_names(metrics: &std::collections::BTreeSet<String>) -> Vec<MetricsName> {
    MetricsName::ALL
        .iter()
        .copied()
        .filter(|m| metrics.contains(m.as_str()))
        .collect()
}

/// How a description shows its enhanced monitoring, encryption and consumers.
fn monitoring_of(description: &Description) -> Vec<EnhancedMetrics> {
    vec![EnhancedMetrics {
        shard_level_metrics: Some(metric_names(&description.shard_level_metrics)),
    }]
}

fn encryption_of(description: &Description) -> EncryptionType {
    if description.encryption_key.is_some() {
        EncryptionType::Kms
    } else {
        EncryptionType::None
    }
}

/// The Kinesis API of a server.
pub struct KinesisBackend<S> {
    streams: Streams<S>,
}

impl<S: Store> KinesisBackend<S> {
    pub fn new(streams: Streams<S>) -> Self {
        Self { streams }
    }

    pub fn streams(&self) -> &Streams<S> {
        &self.streams
    }

    fn name(&self, name: Option<&str>, arn: Option<&str>) -> Result<String, ApiError> {
        self.streams.resolve(name, arn).map_err(api_error)
    }

    /// A consumer by its ARN, or by its stream's ARN and its name.
    fn consumer(
        &self,
        stream_arn: Option<&str>,
        name: Option<&str>,
        arn: Option<&str>,
    ) -> Result<(Description, sluice_streams::Consumer), ApiError> {
        let stream_arn = match (stream_arn, name, arn) {
            (None, None, Some(arn)) => arn.split("/consumer/").next().unwrap_or_default(),
            (Some(stream_arn), Some(_), None) => stream_arn,
            _ => {
                return Err(api_error(Error::InvalidArgument(
                    "Either ConsumerARN or both ConsumerName and StreamARN should be provided."
                        .into(),
                )));
            }
        };
        let stream = self.name(None, Some(stream_arn))?;
        let description = self.streams.describe(&stream).map_err(api_error)?;
        let found = description
            .consumers
            .iter()
            .find(|c| Some(c.arn.as_str()) == arn || Some(c.name.as_str()) == name)
            .cloned();
        match found {
            Some(consumer) => Ok((description, consumer)),
            None => Err(api_error(Error::NotFound(format!(
                "Consumer {} under stream {} not found for account {}.",
                name.or(arn).unwrap_or_default(),
                description.name,
                self.streams.scope().account
            )))),
        }
    }

    /// The stream, and the consumer if the ARN names one, a resource policy belongs to.
    fn policy_owner(
        &self,
        arn: &str,
    ) -> Result<(Description, Option<sluice_streams::Consumer>), ApiError> {
        if arn.contains("/consumer/") {
            let (description, consumer) = self.consumer(None, None, Some(arn))?;
            return Ok((description, Some(consumer)));
        }
        let name = self.name(None, Some(arn))?;
        Ok((self.streams.describe(&name).map_err(api_error)?, None))
    }

    async fn set_policy(&self, arn: &str, policy: Option<String>) -> Result<(), ApiError> {
        let (description, consumer) = self.policy_owner(arn)?;
        self.streams
            .update(&description.name, move |description| {
                match consumer {
                    Some(consumer) => {
                        if let Some(c) = description
                            .consumers
                            .iter_mut()
                            .find(|c| c.arn == consumer.arn)
                        {
                            c.policy = policy;
                        }
                    }
                    None => description.policy = policy,
                }
                Ok(())
            })
            .await
            .map_err(api_error)
    }

    /// Enables (or disables) shard-level metrics: the metrics before and after.
    async fn monitoring(
        &self,
        name: &str,
        metrics: &[MetricsName],
        enable: bool,
    ) -> Result<EnhancedMonitoringOutput, ApiError> {
        let named: Vec<&'static str> = if metrics.contains(&MetricsName::All) {
            MetricsName::ALL
                .iter()
                .filter(|m| **m != MetricsName::All)
                .map(|m| m.as_str())
                .collect()
        } else {
            metrics.iter().map(|m| m.as_str()).collect()
        };
        let before = self
            .streams
            .describe(name)
            .map_err(api_error)?
            .shard_level_metrics;
        self.streams
            .update(name, move |description| {
                for metric in named {
                    if enable {
                        description.shard_level_metrics.insert(metric.to_owned());
                    } else {
                        description.shard_level_metrics.remove(metric);
                    }
                }
                Ok(())
            })
            .await
            .map_err(api_error)?;
        let after = self.streams.describe(name).map_err(api_error)?;
        Ok(EnhancedMonitoringOutput {
            stream_name: Some(after.name.clone()),
            stream_arn: Some(after.arn.clone()),
            current_shard_level_metrics: Some(metric_names(&before)),
            desired_shard_level_metrics: Some(metric_names(&after.shard_level_metrics)),
        })
    }

    async fn set_tags(
        &self,
        name: &str,
        add: BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<(), ApiError> {
        self.streams
            .update(name, |description| {
                for key in remove {
                    description.tags.remove(key);
                }
                description.tags.extend(add);
                if description.tags.len() > MAX_TAGS {
                    return Err(Error::InvalidArgument(format!(
                        "Failed to add tags to stream {} under account {} because a given stream \
                         cannot have more than {MAX_TAGS} tags.",
                        description.name,
                        self.streams.scope().account
                    )));
                }
                Ok(())
            })
            .await
            .map_err(api_error)
    }
}

fn api_error(error: Error) -> ApiError {
    let kind = match &error {
        Error::NotFound(_) => "ResourceNotFoundException",
        Error::InUse(_) => "ResourceInUseException",
        Error::InvalidArgument(_) => "InvalidArgumentException",
        Error::ExpiredIterator(_) => "ExpiredIteratorException",
        Error::LimitExceeded(_) => "LimitExceededException",
        Error::ThroughputExceeded(_) => "ProvisionedThroughputExceededException",
        Error::Storage(_) => {
            // Retryable: SDKs back off and try again (a full disk, a store closing).
            return ApiError::new("InternalFailure", error.to_string()).with_status(500);
        }
    };
    ApiError::new(kind, error.to_string())
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn mode_details(mode: Mode) -> StreamModeDetails {
    StreamModeDetails {
        stream_mode: match mode {
            Mode::Provisioned => StreamMode::Provisioned,
            Mode::OnDemand => StreamMode::OnDemand,
        },
    }
}

fn shard(shard: &sluice_streams::Shard) -> Shard {
    Shard {
        shard_id: shard.id(),
        parent_shard_id: shard.parent.map(sluice_streams::keys::shard_id),
        adjacent_parent_shard_id: shard.adjacent_parent.map(sluice_streams::keys::shard_id),
        hash_key_range: HashKeyRange {
            starting_hash_key: shard.start_hash.to_string(),
            ending_hash_key: shard.end_hash.to_string(),
        },
        sequence_number_range: SequenceNumberRange {
            starting_sequence_number: sluice_streams::keys::sequence_number(
                shard.starting_seq,
                shard.index,
            ),
            ending_sequence_number: shard
                .ending_seq
                .map(|seq| sluice_streams::keys::sequence_number(seq, shard.index)),
        },
    }
}

fn tags_list(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(key, value)| Tag {
            key: key.clone(),
            value: Some(value.clone()),
        })
        .collect()
}

fn decode_data(data: &str) -> Result<Vec<u8>, ApiError> {
    STANDARD
        .decode(data)
        .map_err(|_| ApiError::serialization("Data is not valid base64".to_owned()))
}

/// AWS's check of a partition key given to a stream that needs one.
fn partition_key(key: Option<String>, at: &str) -> Result<String, ApiError> {
    key.ok_or_else(|| {
        ApiError::validation(format!(
            "1 validation error detected: Value null at '{at}' failed to satisfy constraint: \
             Member must not be null"
        ))
    })
}

impl<S: Store> Kinesis for KinesisBackend<S> {
    async fn create_stream(&self, input: CreateStreamInput) -> Result<(), ApiError> {
        let mode = match input.stream_mode_details.map(|d| d.stream_mode) {
            Some(StreamMode::OnDemand) => Mode::OnDemand,
            _ => Mode::Provisioned,
        };
        if mode == Mode::OnDemand && input.shard_count.is_some() {
            return Err(api_error(Error::InvalidArgument(
                "ShardCount is not supported for an ON_DEMAND stream.".into(),
            )));
        }
        let shards = input.shard_count.map(|n| u32::try_from(n).unwrap_or(0));
        let tags = input.tags.unwrap_or_default();
        if tags.len() > MAX_TAGS {
            return Err(api_error(Error::InvalidArgument(format!(
                "A stream cannot have more than {MAX_TAGS} tags."
            ))));
        }
        let max_record_kib = input
            .max_record_size_in_ki_b
            .map(|n| u32::try_from(n).unwrap_or(0));
        self.streams
            .create(&input.stream_name, shards, mode, max_record_kib, tags)
            .await
            .map_err(api_error)
    }

    async fn delete_stream(&self, input: DeleteStreamInput) -> Result<(), ApiError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        self.streams.delete(&name).await.map_err(api_error)
    }

    async fn describe_stream(
        &self,
        input: DescribeStreamInput,
    ) -> Result<DescribeStreamOutput, ApiError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        let description = self.streams.describe(&name).map_err(api_error)?;
        let limit = input.limit.map_or(100, |n| n.clamp(1, 100) as usize);
        let after = input
            .exclusive_start_shard_id
            .as_deref()
            .and_then(sluice_streams::keys::parse_shard_id);
        let shards: Vec<&sluice_streams::Shard> = description
            .shards
            .iter()
            .filter(|s| after.is_none_or(|a| s.index > a))
            .collect();
        Ok(DescribeStreamOutput {
            stream_description: StreamDescription {
                stream_name: description.name.clone(),
                stream_arn: description.arn.clone(),
                stream_status: StreamStatus::Active,
                stream_mode_details: Some(mode_details(description.mode)),
                has_more_shards: shards.len() > limit,
                shards: shards.into_iter().take(limit).map(shard).collect(),
                retention_period_hours: description.retention_hours as i32,
                stream_creation_timestamp: seconds(description.created_ms),
                enhanced_monitoring: monitoring_of(&description),
                encryption_type: Some(encryption_of(&description)),
                key_id: description.encryption_key.clone(),
            },
        })
    }

    async fn describe_stream_summary(
        &self,
        input: DescribeStreamSummaryInput,
    ) -> Result<DescribeStreamSummaryOutput, ApiError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        let description = self.streams.describe(&name).map_err(api_error)?;
        Ok(DescribeStreamSummaryOutput {
            stream_description_summary: StreamDescriptionSummary {
                stream_name: description.name.clone(),
                stream_arn: description.arn.clone(),
                stream_status: StreamStatus::Active,
                stream_mode_details: Some(mode_details(description.mode)),
                retention_period_hours: description.retention_hours as i32,
                stream_creation_timestamp: seconds(description.created_ms),
                enhanced_monitoring: monitoring_of(&description),
                encryption_type: Some(encryption_of(&description)),
                key_id: description.encryption_key.clone(),
                open_shard_count: description.open_shards() as i32,
                consumer_count: Some(description.consumers.len() as i32),
                max_record_size_in_ki_b: Some(description.max_record_kib as i32),
                ..StreamDescriptionSummary::default()
            },
        })
    }

    async fn list_streams(&self, input: ListStreamsInput) -> Result<ListStreamsOutput, ApiError> {
        let limit = input.limit.map_or(100, |n| n.clamp(1, 10_000) as usize);
        let after = match (&input.next_token, &input.exclusive_start_stream_name) {
            (Some(token), _) => Some(
                sluice_types::page_token::decode("kinesis-streams", token)
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(|| {
                        api_error(Error::InvalidArgument(format!(
                            "Invalid NextToken: {token}"
                        )))
                    })?,
            ),
            (None, start) => start.clone(),
        };
        let all: Vec<Description> = self
            .streams
            .list()
            .into_iter()
            .filter(|d| after.as_deref().is_none_or(|a| d.name.as_str() > a))
            .collect();
        let more = all.len() > limit;
        let page: Vec<&Description> = all.iter().take(limit).collect();
        Ok(ListStreamsOutput {
            stream_names: page.iter().map(|d| d.name.clone()).collect(),
            has_more_streams: more,
            next_token: more
                .then(|| page.last())
                .flatten()
                .map(|d| sluice_types::page_token::encode("kinesis-streams", d.name.as_bytes())),
            stream_summaries: Some(
                page.iter()
                    .map(|d| StreamSummary {
                        stream_name: d.name.clone(),
                        stream_arn: d.arn.clone(),
                        stream_status: StreamStatus::Active,
                        stream_mode_details: Some(mode_details(d.mode)),
                        stream_creation_timestamp: Some(seconds(d.created_ms)),
                    })
                    .collect(),
            ),
        })
    }

    async fn list_shards(&self, input: ListShardsInput) -> Result<ListShardsOutput, ApiError> {
        let (name, after) = match &input.next_token {
            Some(token) => {
                if input.stream_name.is_some() || input.stream_arn.is_some() {
                    return Err(api_error(Error::InvalidArgument(
                        "NextToken and StreamName cannot be provided together.".into(),
                    )));
                }
                let text = sluice_types::page_token::decode("kinesis-shards", token)
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(|| {
                        api_error(Error::InvalidArgument(format!(
                            "Invalid NextToken: {token}"
                        )))
                    })?;
                let (name, after) = text.split_once('\n').unwrap_or((&text, ""));
                (name.to_owned(), after.parse::<u32>().ok())
            }
            None => (
                self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?,
                input
                    .exclusive_start_shard_id
                    .as_deref()
                    .and_then(sluice_streams::keys::parse_shard_id),
            ),
        };
        let description = self.streams.describe(&name).map_err(api_error)?;
        let limit = input
            .max_results
            .map_or(1000, |n| n.clamp(1, 10_000) as usize);
        let filter = input.shard_filter;
        let shards: Vec<&sluice_streams::Shard> = description
            .shards
            .iter()
            .filter(|s| after.is_none_or(|a| s.index > a))
            .filter(|s| match filter.as_ref().map(|f| &f.r#type) {
                Some(ShardFilterType::AtLatest) => s.is_open(),
                Some(ShardFilterType::AfterShardId) => {
                    let after = filter
                        .as_ref()
                        .and_then(|f| f.shard_id.as_deref())
                        .and_then(sluice_streams::keys::parse_shard_id);
                    after.is_none_or(|a| s.index > a)
                }
                _ => true,
            })
            .collect();
        let more = shards.len() > limit;
        let page: Vec<&sluice_streams::Shard> = shards.into_iter().take(limit).collect();
        Ok(ListShardsOutput {
            next_token: more.then(|| page.last()).flatten().map(|last| {
                sluice_types::page_token::encode(
                    "kinesis-shards",
                    format!("{name}\n{}", last.index).as_bytes(),
                )
            }),
            shards: Some(page.into_iter().map(shard).collect()),
        })
    }

    async fn put_record(&self, input: PutRecordInput) -> Result<PutRecordOutput, ApiError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        let record = NewRecord {
            data: decode_data(&input.data)?,
            partition_key: partition_key(input.partition_key, "partitionKey")?,
            explicit_hash_key: input.explicit_hash_key,
        };
        let mut placed = self
            .streams
            .put(&name, vec![record])
            .await
            .map_err(api_error)?;
        let placed = placed
            .pop()
            .ok_or_else(|| ApiError::internal("nothing placed"))?
            .map_err(api_error)?;
        Ok(PutRecordOutput {
            shard_id: placed.shard_id,
            sequence_number: placed.sequence_number,
            encryption_type: Some(if self.streams.encrypted(&name) {
                EncryptionType::Kms
            } else {
                EncryptionType::None
            }),
        })
    }

    async fn put_records(&self, input: PutRecordsInput) -> Result<PutRecordsOutput, ApiError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        let mut records = Vec::with_capacity(input.records.len());
        let mut total = 0usize;
        for (i, entry) in input.records.into_iter().enumerate() {
            let data = decode_data(&entry.data)?;
            let key = partition_key(
                entry.partition_key,
                &format!("records.{}.member.partitionKey", i + 1),
            )?;
            total += data.len() + key.len();
            records.push(NewRecord {
                data,
                partition_key: key,
                explicit_hash_key: entry.explicit_hash_key,
            });
        }
        if total > MAX_PUT_RECORDS_BYTES {
            return Err(api_error(Error::InvalidArgument(format!(
                "Records size exceeds {MAX_PUT_RECORDS_BYTES} bytes limit"
            ))));
        }
        let placed = self.streams.put(&name, records).await.map_err(api_error)?;
        Ok(PutRecordsOutput {
            failed_record_count: Some(placed.iter().filter(|p| p.is_err()).count() as i32),
            records: placed
                .into_iter()
                .map(|p| match p {
                    Ok(p) => PutRecordsResultEntry {
                        sequence_number: Some(p.sequence_number),
                        shard_id: Some(p.shard_id),
                        error_code: None,
                        error_message: None,
                    },
                    Err(error) => {
                        let error = api_error(error);
                        PutRecordsResultEntry {
                            error_code: Some(error.kind),
                            error_message: Some(error.message),
                            ..PutRecordsResultEntry::default()
                        }
                    }
                })
                .collect(),
            encryption_type: Some(if self.streams.encrypted(&name) {
                EncryptionType::Kms
            } else {
                EncryptionType::None
            }),
        })
    }

    async fn get_shard_iterator(
        &self,
        input: GetShardIteratorInput,
    ) -> Result<GetShardIteratorOutput, ApiError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        let sequence = |kind: &str| {
            input.starting_sequence_number.clone().ok_or_else(|| {
                api_error(Error::InvalidArgument(format!(
                    "Must specify StartingSequenceNumber for {kind} iterator type."
                )))
            })
        };
        let start = match input.shard_iterator_type {
            ShardIteratorType::AtSequenceNumber => {
                Start::AtSequenceNumber(sequence("AT_SEQUENCE_NUMBER")?)
            }
            ShardIteratorType::AfterSequenceNumber => {
                Start::AfterSequenceNumber(sequence("AFTER_SEQUENCE_NUMBER")?)
            }
            ShardIteratorType::TrimHorizon => Start::TrimHorizon,
            ShardIteratorType::Latest => Start::Latest,
            ShardIteratorType::AtTimestamp => {
                let at = input.timestamp.ok_or_else(|| {
                    api_error(Error::InvalidArgument(
                        "Must specify timestampInMillis parameter for iterator of type \
                         AT_TIMESTAMP. Current request has no timestamp parameter."
                            .into(),
                    ))
                })?;
                Start::AtTimestamp((at * 1000.0) as i64)
            }
        };
        let iterator = self
            .streams
            .iterator(&name, &input.shard_id, start)
            .await
            .map_err(api_error)?;
        Ok(GetShardIteratorOutput {
            shard_iterator: Some(iterator),
        })
    }

    async fn get_records(&self, input: GetRecordsInput) -> Result<GetRecordsOutput, ApiError> {
        let limit = input.limit.map_or(10_000, |n| n.clamp(1, 10_000) as usize);
        let batch = self
            .streams
            .read(&input.shard_iterator, limit)
            .await
            .map_err(api_error)?;
        let parents = |s: &sluice_streams::Shard| -> Vec<String> {
            s.parent
                .into_iter()
                .chain(s.adjacent_parent)
                .map(sluice_streams::keys::shard_id)
                .collect()
        };
        Ok(GetRecordsOutput {
            records: batch
                .records
                .into_iter()
                .map(|r| Record {
                    sequence_number: r.sequence_number,
                    approximate_arrival_timestamp: Some(seconds(r.arrival_ms)),
                    data: STANDARD.encode(&r.data),
                    partition_key: Some(r.partition_key),
                    encryption_type: None,
                })
                .collect(),
            next_shard_iterator: batch.next_iterator,
            millis_behind_latest: Some(batch.millis_behind_latest),
            child_shards: (!batch.child_shards.is_empty()).then(|| {
                batch
                    .child_shards
                    .iter()
                    .map(|s| ChildShard {
                        shard_id: s.id(),
                        parent_shards: parents(s),
                        hash_key_range: HashKeyRange {
                            starting_hash_key: s.start_hash.to_string(),
                            ending_hash_key: s.end_hash.to_string(),
                        },
                    })
                    .collect()
            }),
        })
    }

    async fn split_shard(&self, input: SplitShardInput) -> Result<(), ApiError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        self.streams
            .split_shard(&name, &input.shard_to_split, &input.new_starting_hash_key)
            .await
            .map_err(api_error)
    }

    async fn merge_shards(&self, input: MergeShardsInput) -> Result<(), ApiError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        self.streams
            .merge_shards(&name, &input.shard_to_merge, &input.adjacent_shard_to_merge)
            .await
            .map_err(api_error)
    }

    async fn update_shard_count(
        &self,
        input: UpdateShardCountInput,
    ) -> Result<UpdateShardCountOutput, ApiError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        let target = u32::try_from(input.target_shard_count).unwrap_or(0);
        let before = self
            .streams
            .update_shard_count(&name, target)
            .await
            .map_err(api_error)?;
        let description = self.streams.describe(&name).map_err(api_error)?;
        Ok(UpdateShardCountOutput {
            stream_name: Some(name),
            current_shard_count: Some(before as i32),
            target_shard_count: Some(target as i32),
            stream_arn: Some(description.arn),
        })
    }

    async fn increase_stream_retention_period(
        &self,
        input: IncreaseStreamRetentionPeriodInput,
    ) -> Result<(), ApiError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        let hours = input.retention_period_hours;
        self.streams
            .update(&name, |d| retention(d, hours, true))
            .await
            .map_err(api_error)
    }

    async fn decrease_stream_retention_period(
        &self,
        input: DecreaseStreamRetentionPeriodInput,
    ) -> Result<(), ApiError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        let hours = input.retention_period_hours;
        self.streams
            .update(&name, |d| retention(d, hours, false))
            .await
            .map_err(api_error)
    }

    async fn add_tags_to_stream(&self, input: AddTagsToStreamInput) -> Result<(), ApiError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        self.set_tags(&name, input.tags, &[]).await
    }

    async fn remove_tags_from_stream(
        &self,
        input: RemoveTagsFromStreamInput,
    ) -> Result<(), ApiError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        self.set_tags(&name, BTreeMap::new(), &input.tag_keys).await
    }

    async fn list_tags_for_stream(
        &self,
        input: ListTagsForStreamInput,
    ) -> Result<ListTagsForStreamOutput, ApiError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        let description = self.streams.describe(&name).map_err(api_error)?;
        let limit = input.limit.map_or(50, |n| n.clamp(1, 50) as usize);
        let tags: Vec<Tag> = tags_list(&description.tags)
            .into_iter()
            .filter(|t| {
                input
                    .exclusive_start_tag_key
                    .as_deref()
                    .is_none_or(|after| t.key.as_str() > after)
            })
            .collect();
        Ok(ListTagsForStreamOutput {
            has_more_tags: tags.len() > limit,
            tags: tags.into_iter().take(limit).collect(),
        })
    }

    async fn tag_resource(&self, input: TagResourceInput) -> Result<(), ApiError> {
        let name = self.name(None, Some(&input.resource_arn))?;
        self.set_tags(&name, input.tags, &[]).await
    }

    async fn untag_resource(&self, input: UntagResourceInput) -> Result<(), ApiError> {
        let name = self.name(None, Some(&input.resource_arn))?;
        self.set_tags(&name, BTreeMap::new(), &input.tag_keys).await
    }

    async fn list_tags_for_resource(
        &self,
        input: ListTagsForResourceInput,
    ) -> Result<ListTagsForResourceOutput, ApiError> {
        let name = self.name(None, Some(&input.resource_arn))?;
        let description = self.streams.describe(&name).map_err(api_error)?;
        Ok(ListTagsForResourceOutput {
            tags: Some(tags_list(&description.tags)),
        })
    }

    async fn register_stream_consumer(
        &self,
        input: RegisterStreamConsumerInput,
    ) -> Result<RegisterStreamConsumerOutput, ApiError> {
        let name = self.name(None, Some(&input.stream_arn))?;
        let now = self.streams.clock().now_ms();
        let consumer = sluice_streams::Consumer {
            arn: format!(
                "{}/consumer/{}:{}",
                input.stream_arn,
                input.consumer_name,
                now / 1000
            ),
            name: input.consumer_name.clone(),
            created_ms: now,
            policy: None,
        };
        let account = self.streams.scope().account.clone();
        let added = consumer.clone();
        self.streams
            .update(&name, move |description| {
                if description.consumers.iter().any(|c| c.name == added.name) {
                    return Err(Error::InUse(format!(
                        "Consumer {} under stream {} already exists for account {account}.",
                        added.name, description.name
                    )));
                }
                if description.consumers.len() >= MAX_CONSUMERS {
                    return Err(Error::LimitExceeded(format!(
                        "Stream {} under account {account} already has {MAX_CONSUMERS} \
                         registered consumers, the most a stream can have.",
                        description.name
                    )));
                }
                description.consumers.push(added);
                Ok(())
            })
            .await
            .map_err(api_error)?;
        Ok(RegisterStreamConsumerOutput {
            consumer: Consumer {
                consumer_name: consumer.name,
                consumer_arn: consumer.arn,
                // Usable at once; AWS reports CREATING until its registration completes.
                consumer_status: ConsumerStatus::Creating,
                consumer_creation_timestamp: seconds(consumer.created_ms),
            },
        })
    }

    async fn describe_stream_consumer(
        &self,
        input: DescribeStreamConsumerInput,
    ) -> Result<DescribeStreamConsumerOutput, ApiError> {
        let (description, consumer) = self.consumer(
            input.stream_arn.as_deref(),
            input.consumer_name.as_deref(),
            input.consumer_arn.as_deref(),
        )?;
        Ok(DescribeStreamConsumerOutput {
            consumer_description: ConsumerDescription {
                consumer_name: consumer.name,
                consumer_arn: consumer.arn,
                consumer_status: ConsumerStatus::Active,
                consumer_creation_timestamp: seconds(consumer.created_ms),
                stream_arn: description.arn,
            },
        })
    }

    async fn list_stream_consumers(
        &self,
        input: ListStreamConsumersInput,
    ) -> Result<ListStreamConsumersOutput, ApiError> {
        let name = self.name(None, Some(&input.stream_arn))?;
        let description = self.streams.describe(&name).map_err(api_error)?;
        let limit = input
            .max_results
            .map_or(100, |n| n.clamp(1, 10_000) as usize);
        let start = match &input.next_token {
            Some(token) => sluice_types::page_token::decode("kinesis-consumers", token)
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .and_then(|text| text.parse::<usize>().ok())
                .ok_or_else(|| {
                    api_error(Error::InvalidArgument(format!(
                        "Invalid NextToken: {token}"
                    )))
                })?,
            None => 0,
        };
        let page: Vec<Consumer> = description
            .consumers
            .iter()
            .skip(start)
            .take(limit)
            .map(|c| Consumer {
                consumer_name: c.name.clone(),
                consumer_arn: c.arn.clone(),
                consumer_status: ConsumerStatus::Active,
                consumer_creation_timestamp: seconds(c.created_ms),
            })
            .collect();
        let next = start + page.len();
        Ok(ListStreamConsumersOutput {
            consumers: Some(page),
            next_token: (next < description.consumers.len()).then(|| {
                sluice_types::page_token::encode("kinesis-consumers", next.to_string().as_bytes())
            }),
        })
    }

    async fn deregister_stream_consumer(
        &self,
        input: DeregisterStreamConsumerInput,
    ) -> Result<(), ApiError> {
        let (description, consumer) = self.consumer(
            input.stream_arn.as_deref(),
            input.consumer_name.as_deref(),
            input.consumer_arn.as_deref(),
        )?;
        self.streams
            .update(&description.name, |description| {
                description.consumers.retain(|c| c.arn != consumer.arn);
                Ok(())
            })
            .await
            .map_err(api_error)
    }

    async fn start_stream_encryption(
        &self,
        input: StartStreamEncryptionInput,
    ) -> Result<(), ApiError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        if input.encryption_type != EncryptionType::Kms {
            return Err(api_error(Error::InvalidArgument(
                "EncryptionType must be KMS to start encryption.".into(),
            )));
        }
        let key = input.key_id;
        self.streams
            .update(&name, move |description| {
                description.encryption_key = Some(key);
                Ok(())
            })
            .await
            .map_err(api_error)
    }

    async fn stop_stream_encryption(
        &self,
        input: StopStreamEncryptionInput,
    ) -> Result<(), ApiError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        if input.encryption_type != EncryptionType::Kms {
            return Err(api_error(Error::InvalidArgument(
                "EncryptionType must be KMS to stop encryption.".into(),
            )));
        }
        self.streams
            .update(&name, |description| {
                description.encryption_key = None;
                Ok(())
            })
            .await
            .map_err(api_error)
    }

    async fn enable_enhanced_monitoring(
        &self,
        input: EnableEnhancedMonitoringInput,
    ) -> Result<EnhancedMonitoringOutput, ApiError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        self.monitoring(&name, &input.shard_level_metrics, true)
            .await
    }

    async fn disable_enhanced_monitoring(
        &self,
        input: DisableEnhancedMonitoringInput,
    ) -> Result<EnhancedMonitoringOutput, ApiError> {
        let name = self.name(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
        self.monitoring(&name, &input.shard_level_metrics, false)
            .await
    }

    async fn describe_limits(
        &self,
        _input: DescribeLimitsInput,
    ) -> Result<DescribeLimitsOutput, ApiError> {
        let streams = self.streams.list();
        Ok(DescribeLimitsOutput {
            shard_limit: SHARD_LIMIT,
            open_shard_count: streams.iter().map(|d| d.open_shards() as i32).sum(),
            on_demand_stream_count: streams.iter().filter(|d| d.mode == Mode::OnDemand).count()
                as i32,
            on_demand_stream_count_limit: ON_DEMAND_STREAM_LIMIT,
            ..DescribeLimitsOutput::default()
        })
    }

    async fn update_stream_mode(&self, input: UpdateStreamModeInput) -> Result<(), ApiError> {
        let name = self.name(None, Some(&input.stream_arn))?;
        let mode = match input.stream_mode_details.stream_mode {
            StreamMode::OnDemand => Mode::OnDemand,
            StreamMode::Provisioned => Mode::Provisioned,
        };
        self.streams
            .update(&name, move |description| {
                if description.mode == mode {
                    return Err(Error::InvalidArgument(format!(
                        "Stream {} is already in {} mode.",
                        description.name,
                        mode.as_str()
                    )));
                }
                description.mode = mode;
                Ok(())
            })
            .await
            .map_err(api_error)
    }

    async fn update_max_record_size(
        &self,
        input: UpdateMaxRecordSizeInput,
    ) -> Result<(), ApiError> {
        let name = self.name(None, input.stream_arn.as_deref())?;
        let kib = u32::try_from(input.max_record_size_in_ki_b).unwrap_or(0);
        self.streams
            .update(&name, move |description| {
                description.max_record_kib = kib;
                Ok(())
            })
            .await
            .map_err(api_error)
    }

    async fn put_resource_policy(&self, input: PutResourcePolicyInput) -> Result<(), ApiError> {
        if serde_json::from_str::<serde_json::Value>(&input.policy).map_or(true, |p| !p.is_object())
        {
            return Err(api_error(Error::InvalidArgument(
                "Policy is not a valid JSON policy document.".into(),
            )));
        }
        self.set_policy(&input.resource_arn, Some(input.policy))
            .await
    }

    async fn get_resource_policy(
        &self,
        input: GetResourcePolicyInput,
    ) -> Result<GetResourcePolicyOutput, ApiError> {
        let (description, consumer) = self.policy_owner(&input.resource_arn)?;
        let policy = match consumer {
            Some(consumer) => consumer.policy,
            None => description.policy,
        };
        Ok(GetResourcePolicyOutput {
            policy: policy.unwrap_or_else(|| "{}".into()),
        })
    }

    async fn delete_resource_policy(
        &self,
        input: DeleteResourcePolicyInput,
    ) -> Result<(), ApiError> {
        self.set_policy(&input.resource_arn, None).await
    }
}

/// AWS's rules for a retention change: within 24..=8760 hours, and an increase (decrease)
/// must not make it shorter (longer).
fn retention(description: &mut Description, hours: i32, increase: bool) -> Result<(), Error> {
    let current = description.retention_hours as i32;
    let bounds =
        sluice_streams::MIN_RETENTION_HOURS as i32..=sluice_streams::MAX_RETENTION_HOURS as i32;
    if !bounds.contains(&hours) {
        let (word, limit) = if hours < *bounds.start() {
            ("shorter", bounds.start())
        } else {
            ("longer", bounds.end())
        };
        return Err(Error::InvalidArgument(format!(
            "Minimum allowed retention period is {} hours. Maximum allowed retention period is \
             {} hours. Requested retention period ({hours} hours) is too {word} (limit {limit}).",
            bounds.start(),
            bounds.end()
        )));
    }
    if increase && hours < current {
        return Err(Error::InvalidArgument(format!(
            "Requested retention period ({hours} hours) for stream {} can not be shorter than \
             existing retention period ({current} hours). Use DecreaseRetentionPeriod API.",
            description.name
        )));
    }
    if !increase && hours > current {
        return Err(Error::InvalidArgument(format!(
            "Requested retention period ({hours} hours) for stream {} can not be longer than \
             existing retention period ({current} hours). Use IncreaseRetentionPeriod API.",
            description.name
        )));
    }
    description.retention_hours = hours as u32;
    Ok(())
}
