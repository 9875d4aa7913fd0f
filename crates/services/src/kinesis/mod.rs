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
                enhanced_monitoring: vec![EnhancedMetrics {
                    shard_level_metrics: Some(Vec::new()),
                }],
                encryption_type: Some(EncryptionType::None),
                key_id: None,
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
                enhanced_monitoring: vec![EnhancedMetrics {
                    shard_level_metrics: Some(Vec::new()),
                }],
                encryption_type: Some(EncryptionType::None),
                open_shard_count: description.open_shards() as i32,
                consumer_count: Some(0),
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
            .ok_or_else(|| ApiError::internal("nothing placed"))?;
        Ok(PutRecordOutput {
            shard_id: placed.shard_id,
            sequence_number: placed.sequence_number,
            encryption_type: Some(EncryptionType::None),
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
            failed_record_count: Some(0),
            records: placed
                .into_iter()
                .map(|p| PutRecordsResultEntry {
                    sequence_number: Some(p.sequence_number),
                    shard_id: Some(p.shard_id),
                    error_code: None,
                    error_message: None,
                })
                .collect(),
            encryption_type: Some(EncryptionType::None),
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
