//! [`SqsBackend`]: the SQS API (`sluice_api::sqs`) over the broker (`sluice_broker`): queue
//! URLs built from the address the client used, AWS's shapes, attribute selections and error
//! names.

use std::collections::BTreeMap;

use base64::Engine as _;
use sluice_api::ApiError;
use sluice_api::gateway::request_endpoint;
use sluice_api::sqs::Sqs;
use sluice_api::sqs::model::{
    BatchResultErrorEntry, CancelMessageMoveTaskRequest, CancelMessageMoveTaskResult,
    ChangeMessageVisibilityRequest, CreateQueueRequest, CreateQueueResult,
    DeleteMessageBatchRequest, DeleteMessageBatchResult, DeleteMessageBatchResultEntry,
    DeleteMessageRequest, DeleteQueueRequest, GetQueueAttributesRequest, GetQueueAttributesResult,
    GetQueueUrlRequest, GetQueueUrlResult, ListDeadLetterSourceQueuesRequest,
    ListDeadLetterSourceQueuesResult, ListMessageMoveTasksRequest, ListMessageMoveTasksResult,
    ListMessageMoveTasksResultEntry, ListQueueTagsRequest, ListQueueTagsResult, ListQueuesRequest,
    ListQueuesResult, Message, MessageAttributeValue, MessageSystemAttributeValue,
    PurgeQueueRequest, QueueAttributeName, ReceiveMessageRequest, ReceiveMessageResult,
    SendMessageBatchRequest, SendMessageBatchResult, SendMessageBatchResultEntry,
    SendMessageRequest, SendMessageResult, SetQueueAttributesRequest, StartMessageMoveTaskRequest,
    StartMessageMoveTaskResult, TagQueueRequest, UntagQueueRequest,
};
use sluice_broker::{
    Attribute, AttributeValue, Attributes, Broker, Error, MoveStatus, Receive, Received, Send,
};
use sluice_store::Store;
use sluice_types::{Scope, page_token};

/// The most queues ListQueues returns without `MaxResults` (AWS: 1000).
const LIST_LIMIT: usize = 1000;
const BATCH_LIMIT: usize = 10;

/// The SQS API on a [`Broker`].
pub struct SqsBackend<S> {
    broker: Broker<S>,
    scope: Scope,
}

impl<S: Store> SqsBackend<S> {
    pub fn new(broker: Broker<S>, scope: Scope) -> Self {
        Self { broker, scope }
    }

    /// `http://<host the client used>/<account>/<name>`.
    fn queue_url(&self, name: &str) -> String {
        let endpoint = request_endpoint().unwrap_or_else(|| "http://localhost:4566".to_owned());
        format!("{endpoint}/{}/{name}", self.scope.account)
    }
}

/// The queue a `QueueUrl` names: its last path segment (any host, as AWS's own URLs differ by
/// endpoint).
fn queue_name(url: &str) -> Result<&str, ApiError> {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|name| !name.is_empty())
        .ok_or_else(|| api_error(Error::QueueDoesNotExist))
}

fn api_error(error: Error) -> ApiError {
    let kind = match &error {
        Error::QueueDoesNotExist => "QueueDoesNotExist",
        Error::QueueNameExists(_) => "QueueNameExists",
        Error::InvalidAttributeName(_) => "InvalidAttributeName",
        Error::InvalidAttributeValue(_) => "InvalidAttributeValue",
        Error::InvalidParameterValue(_) => "InvalidParameterValue",
        Error::ReceiptHandleIsInvalid(_) => "ReceiptHandleIsInvalid",
        Error::MessageNotInflight => "MessageNotInflight",
        Error::ResourceNotFound(_) => "ResourceNotFoundException",
        Error::MissingParameter(_) => "MissingParameter",
        Error::Unavailable(_) => {
            return ApiError::new("ServiceUnavailable", error.to_string()).with_status(503);
        }
    };
    ApiError::new(kind, error.to_string())
}

fn invalid_parameter(message: String) -> ApiError {
    ApiError::new("InvalidParameterValue", message)
}

/// The attributes of a send, from AWS's shapes.
fn attributes(
    given: Option<BTreeMap<String, MessageAttributeValue>>,
) -> Result<Attributes, ApiError> {
    let mut out = Attributes::new();
    for (name, value) in given.unwrap_or_default() {
        let base = value.data_type.split('.').next().unwrap_or_default();
        let attribute_value = match base {
            "String" | "Number" => value.string_value.map(AttributeValue::String),
            "Binary" => match value.binary_value {
                Some(b64) => Some(AttributeValue::Binary(
                    base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .map_err(|_| {
                            invalid_parameter(format!(
                                "The message attribute '{name}' has an invalid binary value."
                            ))
                        })?,
                )),
                None => None,
            },
            _ => {
                return Err(invalid_parameter(format!(
                    "The type of message (user) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
                )));
            }
        };
        let Some(attribute_value) = attribute_value else {
            return Err(invalid_parameter(format!(
                "The message (user) attribute '{name}' must contain a non-empty value of type '{base}'."
            )));
        };
        out.insert(
            name,
            Attribute {
                data_type: value.data_type,
                value: attribute_value,
            },
        );
    }
    Ok(out)
}

fn trace_header(system: Option<&BTreeMap<String, MessageSystemAttributeValue>>) -> Option<String> {
    system?.get("AWSTraceHeader")?.string_value.clone()
}

/// The `SenderId` every message shows (Sluice has one caller identity): ReceiveMessage's
/// attribute and the event-source mappings' records.
pub(crate) const SENDER_ID: &str = "AIDAIT2UOQQY3AUEKVGXU";

fn delay(seconds: Option<i32>) -> Option<i64> {
    seconds.map(i64::from)
}

/// A received message as AWS shows it, with the system attributes and message attributes the
/// request selected.
fn message(received: Received, system: &[String], selected_attributes: &[String]) -> Message {
    let wants = |name: &str| system.iter().any(|s| s == "All" || s == name);
    let mut attributes = BTreeMap::new();
    let sent = &received.sent;
    let mut put = |name: &str, value: String| {
        if wants(name) {
            attributes.insert(name.to_owned(), value);
        }
    };
    put("SenderId", SENDER_ID.to_owned());
    put("SentTimestamp", sent.sent_ms.to_string());
    put(
        "ApproximateReceiveCount",
        received.receive_count.to_string(),
    );
    put(
        "ApproximateFirstReceiveTimestamp",
        received.first_receive_ms.to_string(),
    );
    if let Some(trace) = &sent.trace_header {
        put("AWSTraceHeader", trace.clone());
    }
    if let Some(source) = &sent.dead_letter_source {
        put("DeadLetterQueueSourceArn", source.clone());
    }
    for (name, value) in [
        ("MessageGroupId", &sent.group_id),
        ("MessageDeduplicationId", &sent.deduplication_id),
        ("SequenceNumber", &sent.sequence_number),
    ] {
        if let Some(value) = value {
            put(name, value.clone());
        }
    }
    let selected = |name: &str| {
        selected_attributes.iter().any(|s| {
            s == "All"
                || s == ".*"
                || s == name
                || s.strip_suffix(".*")
                    .is_some_and(|p| name.starts_with(&format!("{p}.")))
        })
    };
    let message_attributes: BTreeMap<String, MessageAttributeValue> = sent
        .attributes
        .iter()
        .filter(|(name, _)| selected(name))
        .map(|(name, attribute)| {
            let mut value = MessageAttributeValue {
                data_type: attribute.data_type.clone(),
                ..MessageAttributeValue::default()
            };
            match &attribute.value {
                AttributeValue::String(s) => value.string_value = Some(s.clone()),
                AttributeValue::Binary(b) => {
                    value.binary_value = Some(base64::engine::general_purpose::STANDARD.encode(b));
                }
            }
            (name.clone(), value)
        })
        .collect();
    Message {
        message_id: Some(sent.id.clone()),
        receipt_handle: Some(received.receipt_handle),
        md5_of_body: Some(sent.md5_of_body.clone()),
        body: Some(sent.body.clone()),
        attributes: (!attributes.is_empty()).then_some(attributes),
        // The digest of what is returned: a selection has its own (SDKs check it).
        md5_of_message_attributes: if message_attributes.is_empty() {
            None
        } else if message_attributes.len() == sent.attributes.len() {
            sent.md5_of_attributes.clone()
        } else {
            sluice_broker::attributes_digest(
                &sent
                    .attributes
                    .iter()
                    .filter(|(name, _)| selected(name))
                    .map(|(name, attribute)| (name.clone(), attribute.clone()))
                    .collect(),
            )
        },
        message_attributes: (!message_attributes.is_empty()).then_some(message_attributes),
    }
}

/// A batch's entries: at least one (`entry` names their type in the message), at most ten,
/// ids well formed and distinct.
fn check_batch<T>(entries: &[T], entry: &str, id: impl Fn(&T) -> &str) -> Result<(), ApiError> {
    if entries.is_empty() {
        return Err(ApiError::new(
            "EmptyBatchRequest",
            format!("There should be at least one {entry} in the request."),
        ));
    }
    if entries.len() > BATCH_LIMIT {
        return Err(ApiError::new(
            "TooManyEntriesInBatchRequest",
            format!(
                "Maximum number of entries per request are {BATCH_LIMIT}. You have sent {}.",
                entries.len()
            ),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for entry in entries {
        let id = id(entry);
        let valid = !id.is_empty()
            && id.len() <= 80
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(ApiError::new(
                "InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
            ));
        }
        if !seen.insert(id) {
            return Err(ApiError::new(
                "BatchEntryIdsNotDistinct",
                format!("Id {id} repeated."),
            ));
        }
    }
    Ok(())
}

fn failed(id: String, error: Error) -> BatchResultErrorEntry {
    let api = api_error(error);
    BatchResultErrorEntry {
        id,
        sender_fault: api.status < 500,
        code: api.kind,
        message: Some(api.message),
    }
}

impl<S: Store> Sqs for SqsBackend<S> {
    async fn create_queue(&self, input: CreateQueueRequest) -> Result<CreateQueueResult, ApiError> {
        let tags = input.tags.unwrap_or_default().into_iter().collect();
        let queue = self
            .broker
            .create_queue(
                &input.queue_name,
                &input.attributes.unwrap_or_default(),
                tags,
            )
            .await
            .map_err(api_error)?;
        Ok(CreateQueueResult {
            queue_url: Some(self.queue_url(&queue.name)),
        })
    }

    async fn get_queue_url(
        &self,
        input: GetQueueUrlRequest,
    ) -> Result<GetQueueUrlResult, ApiError> {
        let queue = self.broker.queue(&input.queue_name).map_err(api_error)?;
        Ok(GetQueueUrlResult {
            queue_url: Some(self.queue_url(&queue.name)),
        })
    }

    async fn list_queues(&self, input: ListQueuesRequest) -> Result<ListQueuesResult, ApiError> {
        let names = self
            .broker
            .queue_names(input.queue_name_prefix.as_deref().unwrap_or_default());
        let after = match &input.next_token {
            Some(token) => Some(
                page_token::decode("sqs-queues", token)
                    .and_then(|cursor| String::from_utf8(cursor).ok())
                    .ok_or_else(|| invalid_parameter("Invalid NextToken value.".into()))?,
            ),
            None => None,
        };
        let limit = match input.max_results {
            Some(n) if !(1..=1000).contains(&n) => {
                return Err(invalid_parameter(format!(
                    "Value {n} for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000."
                )));
            }
            Some(n) => n as usize,
            None => LIST_LIMIT,
        };
        let rest: Vec<String> = names
            .into_iter()
            .filter(|name| after.as_ref().is_none_or(|after| name > after))
            .collect();
        let page: Vec<String> = rest.iter().take(limit).cloned().collect();
        // A token only when the caller pages (MaxResults), as AWS.
        let next_token = (input.max_results.is_some() && rest.len() > page.len())
            .then(|| {
                page.last()
                    .map(|last| page_token::encode("sqs-queues", last.as_bytes()))
            })
            .flatten();
        Ok(ListQueuesResult {
            queue_urls: (!page.is_empty())
                .then(|| page.iter().map(|name| self.queue_url(name)).collect()),
            next_token,
        })
    }

    async fn delete_queue(&self, input: DeleteQueueRequest) -> Result<(), ApiError> {
        let name = queue_name(&input.queue_url)?;
        self.broker.delete_queue(name).await.map_err(api_error)
    }

    async fn purge_queue(&self, input: PurgeQueueRequest) -> Result<(), ApiError> {
        let name = queue_name(&input.queue_url)?;
        self.broker.purge(name).await.map_err(api_error)
    }

    async fn get_queue_attributes(
        &self,
        input: GetQueueAttributesRequest,
    ) -> Result<GetQueueAttributesResult, ApiError> {
        let name = queue_name(&input.queue_url)?;
        let all = self.broker.attributes(name).map_err(api_error)?;
        let wanted = input.attribute_names.unwrap_or_default();
        if let Some(unknown) = wanted
            .iter()
            .find(|name| QueueAttributeName::from_name(name).is_none())
        {
            return Err(ApiError::new(
                "InvalidAttributeName",
                format!("Unknown Attribute {unknown}."),
            ));
        }
        let selected: BTreeMap<String, String> = if wanted.iter().any(|n| n == "All") {
            all
        } else {
            wanted
                .iter()
                .filter_map(|name| all.get(name).map(|value| (name.clone(), value.clone())))
                .collect()
        };
        Ok(GetQueueAttributesResult {
            attributes: (!selected.is_empty()).then_some(selected),
        })
    }

    async fn set_queue_attributes(&self, input: SetQueueAttributesRequest) -> Result<(), ApiError> {
        let name = queue_name(&input.queue_url)?;
        self.broker
            .set_attributes(name, &input.attributes)
            .await
            .map_err(api_error)
    }

    async fn send_message(&self, input: SendMessageRequest) -> Result<SendMessageResult, ApiError> {
        let name = queue_name(&input.queue_url)?;
        let send = Send {
            body: input.message_body,
            attributes: attributes(input.message_attributes)?,
            delay_seconds: delay(input.delay_seconds),
            trace_header: trace_header(input.message_system_attributes.as_ref()),
            group_id: input.message_group_id,
            deduplication_id: input.message_deduplication_id,
        };
        let outcome = self
            .broker
            .send(name, vec![send])
            .await
            .map_err(api_error)?
            .pop()
            .ok_or_else(|| ApiError::internal("no outcome for the message"))?
            .map_err(api_error)?;
        Ok(SendMessageResult {
            md5_of_message_body: Some(outcome.md5_of_body),
            md5_of_message_attributes: outcome.md5_of_attributes,
            message_id: Some(outcome.message_id),
            sequence_number: outcome.sequence_number,
            ..SendMessageResult::default()
        })
    }

    async fn send_message_batch(
        &self,
        input: SendMessageBatchRequest,
    ) -> Result<SendMessageBatchResult, ApiError> {
        let name = queue_name(&input.queue_url)?;
        check_batch(&input.entries, "SendMessageBatchRequestEntry", |e| {
            e.id.as_str()
        })?;
        let total: usize = input.entries.iter().map(|e| e.message_body.len()).sum();
        if total > 1_048_576 {
            return Err(ApiError::new(
                "BatchRequestTooLong",
                format!(
                    "Batch requests cannot be longer than 1048576 bytes. You have sent {total} bytes."
                ),
            ));
        }
        let mut ids = Vec::new();
        let mut sends = Vec::new();
        let mut result = SendMessageBatchResult::default();
        for entry in input.entries {
            match attributes(entry.message_attributes) {
                Ok(attributes) => {
                    ids.push(entry.id);
                    sends.push(Send {
                        body: entry.message_body,
                        attributes,
                        delay_seconds: delay(entry.delay_seconds),
                        trace_header: trace_header(entry.message_system_attributes.as_ref()),
                        group_id: entry.message_group_id,
                        deduplication_id: entry.message_deduplication_id,
                    });
                }
                Err(error) => result.failed.push(BatchResultErrorEntry {
                    id: entry.id,
                    sender_fault: true,
                    code: error.kind,
                    message: Some(error.message),
                }),
            }
        }
        let outcomes = self.broker.send(name, sends).await.map_err(api_error)?;
        for (id, outcome) in ids.into_iter().zip(outcomes) {
            match outcome {
                Ok(sent) => result.successful.push(SendMessageBatchResultEntry {
                    id,
                    message_id: sent.message_id,
                    md5_of_message_body: sent.md5_of_body,
                    md5_of_message_attributes: sent.md5_of_attributes,
                    sequence_number: sent.sequence_number,
                    ..SendMessageBatchResultEntry::default()
                }),
                Err(error) => result.failed.push(failed(id, error)),
            }
        }
        Ok(result)
    }

    async fn receive_message(
        &self,
        input: ReceiveMessageRequest,
    ) -> Result<ReceiveMessageResult, ApiError> {
        let name = queue_name(&input.queue_url)?;
        let max = match input.max_number_of_messages {
            None => 1,
            Some(n @ 1..=10) => n as usize,
            Some(n) => {
                return Err(invalid_parameter(format!(
                    "Value {n} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."
                )));
            }
        };
        if let Some(wait) = input.wait_time_seconds
            && !(0..=20).contains(&wait)
        {
            return Err(invalid_parameter(format!(
                "Value {wait} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided."
            )));
        }
        if let Some(timeout) = input.visibility_timeout
            && !(0..=43_200).contains(&timeout)
        {
            return Err(invalid_parameter(format!(
                "Value {timeout} for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided."
            )));
        }
        if let Some(attempt) = &input.receive_request_attempt_id
            && (attempt.is_empty()
                || attempt.len() > 128
                || !attempt.chars().all(|c| c.is_ascii_graphic()))
        {
            return Err(invalid_parameter(format!(
                "Value {attempt} for parameter ReceiveRequestAttemptId is invalid. Reason: ReceiveRequestAttemptId can only contain alphanumeric characters and punctuation, and be at most 128 characters long."
            )));
        }
        let received = self
            .broker
            .receive_attempt(
                name,
                Receive {
                    max_messages: max,
                    visibility_timeout: input.visibility_timeout.map(i64::from),
                    wait_seconds: input.wait_time_seconds.map(i64::from),
                },
                input.receive_request_attempt_id.as_deref(),
            )
            .await
            .map_err(api_error)?;
        let mut system = input.message_system_attribute_names.unwrap_or_default();
        // The older `AttributeNames` selects system attributes too.
        system.extend(input.attribute_names.unwrap_or_default());
        let selected = input.message_attribute_names.unwrap_or_default();
        let messages: Vec<Message> = received
            .into_iter()
            .map(|r| message(r, &system, &selected))
            .collect();
        Ok(ReceiveMessageResult {
            messages: (!messages.is_empty()).then_some(messages),
        })
    }

    async fn delete_message(&self, input: DeleteMessageRequest) -> Result<(), ApiError> {
        let name = queue_name(&input.queue_url)?;
        self.broker
            .delete(name, &input.receipt_handle)
            .await
            .map_err(api_error)
    }

    async fn delete_message_batch(
        &self,
        input: DeleteMessageBatchRequest,
    ) -> Result<DeleteMessageBatchResult, ApiError> {
        let name = queue_name(&input.queue_url)?;
        check_batch(&input.entries, "DeleteMessageBatchRequestEntry", |e| {
            e.id.as_str()
        })?;
        let mut result = DeleteMessageBatchResult::default();
        for entry in input.entries {
            match self.broker.delete(name, &entry.receipt_handle).await {
                Ok(()) => result
                    .successful
                    .push(DeleteMessageBatchResultEntry { id: entry.id }),
                Err(Error::QueueDoesNotExist) => return Err(api_error(Error::QueueDoesNotExist)),
                Err(error) => result.failed.push(failed(entry.id, error)),
            }
        }
        Ok(result)
    }

    async fn start_message_move_task(
        &self,
        input: StartMessageMoveTaskRequest,
    ) -> Result<StartMessageMoveTaskResult, ApiError> {
        let rate = match input.max_number_of_messages_per_second {
            Some(n) => Some(u32::try_from(n).map_err(|_| {
                invalid_parameter(format!(
                    "Value {n} for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: Must be between 1 and {}.",
                    sluice_broker::MAX_RATE
                ))
            })?),
            None => None,
        };
        let task = self
            .broker
            .start_move(&input.source_arn, input.destination_arn.as_deref(), rate)
            .map_err(api_error)?;
        Ok(StartMessageMoveTaskResult {
            task_handle: Some(task.handle.clone()),
        })
    }

    async fn list_message_move_tasks(
        &self,
        input: ListMessageMoveTasksRequest,
    ) -> Result<ListMessageMoveTasksResult, ApiError> {
        let limit = match input.max_results {
            None => 1,
            Some(n @ 1..=10) => n as usize,
            Some(n) => {
                return Err(invalid_parameter(format!(
                    "Value {n} for parameter MaxResults is invalid. Reason: You must enter a number that's between 1 and 10."
                )));
            }
        };
        let tasks = self.broker.moves(&input.source_arn).map_err(api_error)?;
        let results = tasks
            .iter()
            .take(limit)
            .map(|task| {
                let (status, reason) = task.status();
                ListMessageMoveTasksResultEntry {
                    // AWS shows the handle of running tasks only.
                    task_handle: (status == MoveStatus::Running).then(|| task.handle.clone()),
                    status: Some(status.as_str().to_owned()),
                    source_arn: Some(task.source_arn.clone()),
                    destination_arn: task.destination_arn.clone(),
                    max_number_of_messages_per_second: task.rate.map(|r| r as i32),
                    approximate_number_of_messages_moved: Some(task.moved() as i64),
                    approximate_number_of_messages_to_move: Some(task.to_move as i64),
                    failure_reason: reason,
                    started_timestamp: Some(task.started_ms),
                }
            })
            .collect();
        Ok(ListMessageMoveTasksResult {
            results: Some(results),
        })
    }

    async fn cancel_message_move_task(
        &self,
        input: CancelMessageMoveTaskRequest,
    ) -> Result<CancelMessageMoveTaskResult, ApiError> {
        let task = self
            .broker
            .cancel_move(&input.task_handle)
            .map_err(api_error)?;
        Ok(CancelMessageMoveTaskResult {
            approximate_number_of_messages_moved: Some(task.moved() as i64),
        })
    }

    async fn tag_queue(&self, input: TagQueueRequest) -> Result<(), ApiError> {
        let name = queue_name(&input.queue_url)?;
        self.broker
            .change_tags(name, input.tags.into_iter().collect(), &[])
            .await
            .map_err(api_error)
    }

    async fn untag_queue(&self, input: UntagQueueRequest) -> Result<(), ApiError> {
        let name = queue_name(&input.queue_url)?;
        self.broker
            .change_tags(name, Vec::new(), &input.tag_keys)
            .await
            .map_err(api_error)
    }

    async fn list_queue_tags(
        &self,
        input: ListQueueTagsRequest,
    ) -> Result<ListQueueTagsResult, ApiError> {
        let name = queue_name(&input.queue_url)?;
        let tags = self.broker.tags(name).map_err(api_error)?;
        Ok(ListQueueTagsResult {
            tags: (!tags.is_empty()).then(|| tags.into_iter().collect()),
        })
    }

    async fn list_dead_letter_source_queues(
        &self,
        input: ListDeadLetterSourceQueuesRequest,
    ) -> Result<ListDeadLetterSourceQueuesResult, ApiError> {
        let name = queue_name(&input.queue_url)?;
        let sources = self.broker.dead_letter_sources(name).map_err(api_error)?;
        Ok(ListDeadLetterSourceQueuesResult {
            queue_urls: sources.iter().map(|n| self.queue_url(n)).collect(),
            next_token: None,
        })
    }

    async fn change_message_visibility(
        &self,
        input: ChangeMessageVisibilityRequest,
    ) -> Result<(), ApiError> {
        let name = queue_name(&input.queue_url)?;
        self.broker
            .change_visibility(
                name,
                &input.receipt_handle,
                i64::from(input.visibility_timeout),
            )
            .await
            .map_err(api_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_urls_name_their_queue_by_the_last_segment() {
        assert_eq!(
            queue_name("http://localhost:4566/000000000000/orders").unwrap(),
            "orders"
        );
        assert_eq!(
            queue_name("https://sqs.us-east-1.amazonaws.com/123456789012/q/").unwrap(),
            "q"
        );
        assert!(queue_name("").is_err());
    }
}
