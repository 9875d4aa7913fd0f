//! [`SnsBackend`]: the SNS API (`sluice_api::sns`) over the broker's topics: AWS's shapes,
//! message-attribute rules and error codes; notification URLs built from the address the
//! client used.

pub(crate) mod destinations;
mod endpoints;

use std::collections::BTreeMap;

use base64::Engine as _;
use sluice_api::ApiError;
use sluice_api::binding::ErrorShape;
use sluice_api::gateway::{request_endpoint, request_trace_header};
use sluice_api::sns::Sns;
use sluice_api::sns::model::errors as sns_errors;
use sluice_api::sns::model::{
    BatchResultErrorEntry, ConfirmSubscriptionInput, ConfirmSubscriptionResponse, CreateTopicInput,
    CreateTopicResponse, DeleteTopicInput, GetSubscriptionAttributesInput,
    GetSubscriptionAttributesResponse, GetTopicAttributesInput, GetTopicAttributesResponse,
    ListSubscriptionsByTopicInput, ListSubscriptionsByTopicResponse, ListSubscriptionsInput,
    ListSubscriptionsResponse, ListTagsForResourceRequest, ListTagsForResourceResponse,
    ListTopicsInput, ListTopicsResponse, MessageAttributeValue, PublishBatchInput,
    PublishBatchResponse, PublishBatchResultEntry, PublishInput, PublishResponse,
    SetSubscriptionAttributesInput, SetTopicAttributesInput, SubscribeInput, SubscribeResponse,
    Subscription, Tag, TagResourceRequest, TagResourceResponse, Topic, UnsubscribeInput,
    UntagResourceRequest, UntagResourceResponse,
};
use sluice_broker::topics::{Publication, SubscriptionSummary, TopicError};
use sluice_broker::{Attribute, AttributeValue, Attributes, Broker};
use sluice_store::Store;
use sluice_types::page_token;

pub use destinations::MessageDestinations;
pub use endpoints::SnsEndpoints;

const BATCH_LIMIT: usize = 10;
const TOPICS_TOKEN: &str = "sns-topics";
const SUBSCRIPTIONS_TOKEN: &str = "sns-subscriptions";

/// The SNS API on a [`Broker`]'s topics.
pub struct SnsBackend<S> {
    broker: Broker<S>,
}

impl<S: Store> SnsBackend<S> {
    pub fn new(broker: Broker<S>) -> Self {
        Self { broker }
    }

    pub fn broker(&self) -> &Broker<S> {
        &self.broker
    }

    /// The service's URL as the client reached it.
    fn endpoint(&self) -> String {
        request_endpoint().unwrap_or_else(|| self.broker.endpoint())
    }
}

fn error(shape: ErrorShape, message: impl Into<String>) -> ApiError {
    ApiError::new(shape.name, message).with_status(shape.status)
}

fn api_error(e: TopicError) -> ApiError {
    match e {
        TopicError::NotFound(message) => error(sns_errors::NOT_FOUND_EXCEPTION, message),
        TopicError::InvalidParameter(message) => {
            error(sns_errors::INVALID_PARAMETER_EXCEPTION, message)
        }
        TopicError::ParameterValueInvalid(message) => {
            error(sns_errors::INVALID_PARAMETER_VALUE_EXCEPTION, message)
        }
        TopicError::BatchTooLong => error(
            sns_errors::BATCH_REQUEST_TOO_LONG_EXCEPTION,
            TopicError::BatchTooLong.to_string(),
        ),
        TopicError::Unavailable(message) => {
            ApiError::new("ServiceUnavailable", message).with_status(503)
        }
    }
}

/// Tag operations answer a missing topic with `ResourceNotFound`.
fn resource_error(e: TopicError) -> ApiError {
    match e {
        TopicError::NotFound(_) => error(
            sns_errors::RESOURCE_NOT_FOUND_EXCEPTION,
            "Resource does not exist",
        ),
        other => api_error(other),
    }
}

fn value_invalid(message: String) -> ApiError {
    error(sns_errors::INVALID_PARAMETER_VALUE_EXCEPTION, message)
}

/// A message attribute name: letters, digits, `_`, `-` and `.`, not at either end nor twice.
fn check_attribute_name(name: &str) -> Result<(), ApiError> {
    if name.len() >= 256 {
        return Err(value_invalid(
            "Length of message attribute name must be less than 256 bytes.".into(),
        ));
    }
    if name.starts_with('.') {
        return Err(value_invalid(
            "Invalid message attribute name starting with character '.' was found.".into(),
        ));
    }
    if name.ends_with('.') {
        return Err(value_invalid(
            "Invalid message attribute name ending with character '.' was found.".into(),
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(value_invalid(format!(
            "Invalid non-alphanumeric character '#x{:X}' was found in the message attribute name. Can only include alphanumeric characters, hyphens, underscores, or dots.",
            u32::from(c)
        )));
    }
    if name.contains("..") {
        return Err(value_invalid(
            "Message attribute name can not have successive '.' character.".into(),
        ));
    }
    Ok(())
}

/// A publication's attributes, with AWS's checks and messages.
fn attributes(
    given: Option<BTreeMap<String, MessageAttributeValue>>,
) -> Result<Attributes, ApiError> {
    let mut out = Attributes::new();
    for (name, attribute) in given.unwrap_or_default() {
        check_attribute_name(&name)?;
        let data_type = attribute.data_type;
        let base = data_type.split('.').next().unwrap_or_default();
        let known = matches!(data_type.as_str(), "String" | "Number" | "Binary")
            || (matches!(base, "String" | "Number" | "Binary") && data_type.len() > base.len() + 1);
        if !known {
            return Err(value_invalid(format!(
                "The message attribute '{name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."
            )));
        }
        let empty = || {
            value_invalid(format!(
                "The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{data_type}'."
            ))
        };
        let value = if base == "Binary" {
            match (attribute.binary_value, attribute.string_value) {
                (Some(b64), _) => {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .map_err(|_| {
                            value_invalid(format!(
                                "The message attribute '{name}' has an invalid binary value."
                            ))
                        })?;
                    if bytes.is_empty() {
                        return Err(empty());
                    }
                    AttributeValue::Binary(bytes)
                }
                (None, Some(_)) => {
                    return Err(value_invalid(format!(
                        "The message attribute '{name}' with type '{data_type}' must use field 'Binary'."
                    )));
                }
                (None, None) => return Err(empty()),
            }
        } else {
            match (attribute.string_value, attribute.binary_value) {
                (Some(text), _) if text.is_empty() => return Err(empty()),
                (Some(text), _) => {
                    if base == "Number" && text.trim().parse::<f64>().is_err() {
                        return Err(value_invalid(format!(
                            "Could not cast message attribute '{name}' value to number."
                        )));
                    }
                    if data_type == "String.Array"
                        && !matches!(
                            serde_json::from_str::<serde_json::Value>(&text),
                            Ok(serde_json::Value::Array(_))
                        )
                    {
                        return Err(value_invalid(format!(
                            "The message attribute '{name}' with type 'String.Array' has an invalid value."
                        )));
                    }
                    AttributeValue::String(text)
                }
                (None, Some(_)) => {
                    return Err(value_invalid(format!(
                        "The message attribute '{name}' with type '{data_type}' must use field 'String'."
                    )));
                }
                (None, None) => return Err(empty()),
            }
        };
        out.insert(name, Attribute { data_type, value });
    }
    if out.len() > 10 {
        return Err(error(
            sns_errors::INVALID_PARAMETER_EXCEPTION,
            "Invalid parameter: MessageAttributes Reason: Number of message attributes [11] exceeds the allowed maximum [10].".replace("[11]", &format!("[{}]", out.len())),
        ));
    }
    Ok(out)
}

fn structure_json(structure: Option<&str>) -> Result<bool, ApiError> {
    match structure {
        None => Ok(false),
        Some("json") => Ok(true),
        Some(_) => Err(error(
            sns_errors::INVALID_PARAMETER_EXCEPTION,
            "Invalid parameter: MessageStructure",
        )),
    }
}

fn tags_of(tags: Option<Vec<Tag>>) -> Vec<(String, String)> {
    tags.unwrap_or_default()
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect()
}

fn subscription_shape(s: SubscriptionSummary) -> Subscription {
    Subscription {
        subscription_arn: Some(if s.confirmed {
            s.arn
        } else {
            "PendingConfirmation".into()
        }),
        owner: Some(s.owner),
        protocol: Some(s.protocol),
        endpoint: Some(s.endpoint),
        topic_arn: Some(s.topic_arn),
    }
}

fn after(kind: &str, token: Option<&str>) -> Result<Option<String>, ApiError> {
    match token {
        None | Some("") => Ok(None),
        Some(token) => page_token::decode(kind, token)
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .map(Some)
            .ok_or_else(|| {
                error(
                    sns_errors::INVALID_PARAMETER_EXCEPTION,
                    "Invalid parameter: NextToken",
                )
            }),
    }
}

impl<S: Store> Sns for SnsBackend<S> {
    async fn create_topic(&self, input: CreateTopicInput) -> Result<CreateTopicResponse, ApiError> {
        let mut attributes = input.attributes.unwrap_or_default();
        if let Some(policy) = input.data_protection_policy {
            attributes.insert("DataProtectionPolicy".into(), policy);
        }
        let tags = tags_of(input.tags);
        let arn = self
            .broker
            .create_topic(&input.name, &attributes, &tags)
            .await
            .map_err(api_error)?;
        Ok(CreateTopicResponse {
            topic_arn: Some(arn),
        })
    }

    async fn delete_topic(&self, input: DeleteTopicInput) -> Result<(), ApiError> {
        self.broker
            .delete_topic(&input.topic_arn)
            .await
            .map_err(api_error)
    }

    async fn list_topics(&self, input: ListTopicsInput) -> Result<ListTopicsResponse, ApiError> {
        let after = after(TOPICS_TOKEN, input.next_token.as_deref())?;
        let (arns, next) = self.broker.topic_arns(after.as_deref());
        Ok(ListTopicsResponse {
            topics: Some(
                arns.into_iter()
                    .map(|arn| Topic {
                        topic_arn: Some(arn),
                    })
                    .collect(),
            ),
            next_token: next.map(|last| page_token::encode(TOPICS_TOKEN, last.as_bytes())),
        })
    }

    async fn get_topic_attributes(
        &self,
        input: GetTopicAttributesInput,
    ) -> Result<GetTopicAttributesResponse, ApiError> {
        let attributes = self
            .broker
            .topic_attributes(&input.topic_arn)
            .map_err(api_error)?;
        Ok(GetTopicAttributesResponse {
            attributes: Some(attributes),
        })
    }

    async fn set_topic_attributes(&self, input: SetTopicAttributesInput) -> Result<(), ApiError> {
        self.broker
            .set_topic_attribute(
                &input.topic_arn,
                &input.attribute_name,
                input.attribute_value.as_deref().unwrap_or_default(),
            )
            .await
            .map_err(api_error)
    }

    async fn subscribe(&self, input: SubscribeInput) -> Result<SubscribeResponse, ApiError> {
        let subscribed = self
            .broker
            .subscribe(
                &input.topic_arn,
                &input.protocol,
                input.endpoint.as_deref(),
                &input.attributes.unwrap_or_default(),
                &self.endpoint(),
            )
            .await
            .map_err(api_error)?;
        let show = subscribed.confirmed || input.return_subscription_arn == Some(true);
        Ok(SubscribeResponse {
            subscription_arn: Some(if show {
                subscribed.arn
            } else {
                "pending confirmation".into()
            }),
        })
    }

    async fn confirm_subscription(
        &self,
        input: ConfirmSubscriptionInput,
    ) -> Result<ConfirmSubscriptionResponse, ApiError> {
        let arn = self
            .broker
            .confirm_subscription(&input.topic_arn, &input.token)
            .await
            .map_err(api_error)?;
        Ok(ConfirmSubscriptionResponse {
            subscription_arn: Some(arn),
        })
    }

    async fn unsubscribe(&self, input: UnsubscribeInput) -> Result<(), ApiError> {
        self.broker
            .unsubscribe(&input.subscription_arn)
            .await
            .map_err(api_error)
    }

    async fn list_subscriptions(
        &self,
        input: ListSubscriptionsInput,
    ) -> Result<ListSubscriptionsResponse, ApiError> {
        let after = after(SUBSCRIPTIONS_TOKEN, input.next_token.as_deref())?;
        let (page, next) = self
            .broker
            .subscriptions(None, after.as_deref())
            .map_err(api_error)?;
        Ok(ListSubscriptionsResponse {
            subscriptions: Some(page.into_iter().map(subscription_shape).collect()),
            next_token: next.map(|last| page_token::encode(SUBSCRIPTIONS_TOKEN, last.as_bytes())),
        })
    }

    async fn list_subscriptions_by_topic(
        &self,
        input: ListSubscriptionsByTopicInput,
    ) -> Result<ListSubscriptionsByTopicResponse, ApiError> {
        let after = after(SUBSCRIPTIONS_TOKEN, input.next_token.as_deref())?;
        let (page, next) = self
            .broker
            .subscriptions(Some(&input.topic_arn), after.as_deref())
            .map_err(api_error)?;
        Ok(ListSubscriptionsByTopicResponse {
            subscriptions: Some(page.into_iter().map(subscription_shape).collect()),
            next_token: next.map(|last| page_token::encode(SUBSCRIPTIONS_TOKEN, last.as_bytes())),
        })
    }

    async fn get_subscription_attributes(
        &self,
        input: GetSubscriptionAttributesInput,
    ) -> Result<GetSubscriptionAttributesResponse, ApiError> {
        let attributes = self
            .broker
            .subscription_attributes(&input.subscription_arn)
            .map_err(api_error)?;
        Ok(GetSubscriptionAttributesResponse {
            attributes: Some(attributes),
        })
    }

    async fn set_subscription_attributes(
        &self,
        input: SetSubscriptionAttributesInput,
    ) -> Result<(), ApiError> {
        self.broker
            .set_subscription_attribute(
                &input.subscription_arn,
                &input.attribute_name,
                input.attribute_value.as_deref().unwrap_or_default(),
            )
            .await
            .map_err(api_error)
    }

    async fn publish(&self, input: PublishInput) -> Result<PublishResponse, ApiError> {
        if let Some(phone) = &input.phone_number {
            let digits = phone.strip_prefix('+').unwrap_or(phone);
            if digits.len() < 2
                || digits.len() > 15
                || digits.starts_with('0')
                || !digits.chars().all(|c| c.is_ascii_digit())
            {
                return Err(error(
                    sns_errors::INVALID_PARAMETER_EXCEPTION,
                    format!(
                        "Invalid parameter: PhoneNumber Reason: {phone} is not valid to publish to"
                    ),
                ));
            }
            // No carrier here: an SMS is accepted and goes nowhere.
            return Ok(PublishResponse {
                message_id: Some(uuid::Uuid::new_v4().to_string()),
                sequence_number: None,
            });
        }
        let (parameter, arn) = match (&input.topic_arn, &input.target_arn) {
            (Some(arn), _) => ("TopicArn", arn.clone()),
            (None, Some(arn)) => ("TargetArn", arn.clone()),
            (None, None) => {
                return Err(error(
                    sns_errors::INVALID_PARAMETER_EXCEPTION,
                    "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter",
                ));
            }
        };
        let publication = Publication {
            structure_json: structure_json(input.message_structure.as_deref())?,
            attributes: attributes(input.message_attributes)?,
            message: input.message,
            subject: input.subject,
            group_id: input.message_group_id,
            deduplication_id: input.message_deduplication_id,
            trace_header: request_trace_header(),
        };
        let published = self
            .broker
            .publish(&arn, parameter, vec![publication], &self.endpoint())
            .await
            .map_err(api_error)?;
        let published = published.into_iter().next();
        Ok(PublishResponse {
            message_id: published.as_ref().map(|p| p.message_id.clone()),
            sequence_number: published.and_then(|p| p.sequence_number),
        })
    }

    async fn publish_batch(
        &self,
        input: PublishBatchInput,
    ) -> Result<PublishBatchResponse, ApiError> {
        let entries = input.publish_batch_request_entries;
        if entries.is_empty() {
            return Err(error(
                sns_errors::EMPTY_BATCH_REQUEST_EXCEPTION,
                "The batch request doesn't contain any entries.",
            ));
        }
        if entries.len() > BATCH_LIMIT {
            return Err(error(
                sns_errors::TOO_MANY_ENTRIES_IN_BATCH_REQUEST_EXCEPTION,
                "The batch request contains more entries than permissible.",
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for entry in &entries {
            if !seen.insert(entry.id.as_str()) {
                return Err(error(
                    sns_errors::BATCH_ENTRY_IDS_NOT_DISTINCT_EXCEPTION,
                    "Two or more batch entries in the request have the same Id.",
                ));
            }
        }
        for entry in &entries {
            if entry.id.len() > 80 {
                return Err(error(
                    sns_errors::INVALID_BATCH_ENTRY_ID_EXCEPTION,
                    format!(
                        "The Id of a batch entry in the batch request is too long: {}",
                        entry.id
                    ),
                ));
            }
            if entry.id.is_empty()
                || !entry
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(error(
                    sns_errors::INVALID_BATCH_ENTRY_ID_EXCEPTION,
                    format!(
                        "The Id of a batch entry in the batch request contains an impermissible character: {}",
                        entry.id
                    ),
                ));
            }
        }
        let mut ids = Vec::with_capacity(entries.len());
        let mut publications = Vec::with_capacity(entries.len());
        for entry in entries {
            publications.push(Publication {
                structure_json: structure_json(entry.message_structure.as_deref())?,
                attributes: attributes(entry.message_attributes)?,
                message: entry.message,
                subject: entry.subject,
                group_id: entry.message_group_id,
                deduplication_id: entry.message_deduplication_id,
                trace_header: request_trace_header(),
            });
            ids.push(entry.id);
        }
        let published = self
            .broker
            .publish(&input.topic_arn, "TopicArn", publications, &self.endpoint())
            .await
            .map_err(api_error)?;
        Ok(PublishBatchResponse {
            successful: Some(
                ids.into_iter()
                    .zip(published)
                    .map(|(id, p)| PublishBatchResultEntry {
                        id: Some(id),
                        message_id: Some(p.message_id),
                        sequence_number: p.sequence_number,
                    })
                    .collect(),
            ),
            failed: Some(Vec::<BatchResultErrorEntry>::new()),
        })
    }

    async fn tag_resource(
        &self,
        input: TagResourceRequest,
    ) -> Result<TagResourceResponse, ApiError> {
        self.broker
            .change_topic_tags(&input.resource_arn, &tags_of(Some(input.tags)), &[])
            .await
            .map_err(resource_error)?;
        Ok(TagResourceResponse {})
    }

    async fn untag_resource(
        &self,
        input: UntagResourceRequest,
    ) -> Result<UntagResourceResponse, ApiError> {
        self.broker
            .change_topic_tags(&input.resource_arn, &[], &input.tag_keys)
            .await
            .map_err(resource_error)?;
        Ok(UntagResourceResponse {})
    }

    async fn list_tags_for_resource(
        &self,
        input: ListTagsForResourceRequest,
    ) -> Result<ListTagsForResourceResponse, ApiError> {
        let tags = self
            .broker
            .topic_tags(&input.resource_arn)
            .map_err(resource_error)?;
        Ok(ListTagsForResourceResponse {
            tags: Some(
                tags.into_iter()
                    .map(|(key, value)| Tag { key, value })
                    .collect(),
            ),
        })
    }
}

/// The certificate that verifies notifications' signatures, where their `SigningCertURL`
/// points.
pub fn certificate_route<S: Store>(broker: Broker<S>) -> axum::Router {
    use axum::response::IntoResponse;
    axum::Router::new().route(
        sluice_broker::topics::signing::CERT_PATH,
        axum::routing::get(move || async move {
            match broker.signer().await {
                Ok(signer) => (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "application/x-x509-ca-cert",
                    )],
                    signer.certificate_pem().to_owned(),
                )
                    .into_response(),
                Err(error) => (
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    error.to_string(),
                )
                    .into_response(),
            }
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(
        data_type: &str,
        string: Option<&str>,
        binary: Option<&str>,
    ) -> MessageAttributeValue {
        MessageAttributeValue {
            data_type: data_type.into(),
            string_value: string.map(Into::into),
            binary_value: binary.map(Into::into),
        }
    }

    fn check(name: &str, value: MessageAttributeValue) -> Result<Attributes, String> {
        attributes(Some(BTreeMap::from([(name.to_owned(), value)]))).map_err(|e| e.message)
    }

    #[test]
    fn message_attributes_follow_awss_rules() {
        assert_eq!(
            check("attr1", attribute("String", Some(""), None)).unwrap_err(),
            "The message attribute 'attr1' must contain non-empty message attribute value for message attribute type 'String'."
        );
        assert_eq!(
            check("attr1", attribute("String", None, Some("aGk="))).unwrap_err(),
            "The message attribute 'attr1' with type 'String' must use field 'String'."
        );
        assert_eq!(
            check("attr1", attribute("Binary", Some("x"), None)).unwrap_err(),
            "The message attribute 'attr1' with type 'Binary' must use field 'Binary'."
        );
        assert_eq!(
            check("attr1", attribute("Float", Some("1"), None)).unwrap_err(),
            "The message attribute 'attr1' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."
        );
        assert_eq!(
            check("a^b", attribute("String", Some("x"), None)).unwrap_err(),
            "Invalid non-alphanumeric character '#x5E' was found in the message attribute name. Can only include alphanumeric characters, hyphens, underscores, or dots."
        );
        assert_eq!(
            check(".a", attribute("String", Some("x"), None)).unwrap_err(),
            "Invalid message attribute name starting with character '.' was found."
        );
        assert_eq!(
            check("a..b", attribute("String", Some("x"), None)).unwrap_err(),
            "Message attribute name can not have successive '.' character."
        );
        assert!(check("price", attribute("Number", Some("99.12"), None)).is_ok());
        assert!(
            check(
                "kinds",
                attribute("String.Array", Some(r#"["a","b"]"#), None)
            )
            .is_ok()
        );
    }
}
