//! Publishing: a publication is checked (AWS's rules and messages), deduplicated on FIFO
//! topics, matched against each subscription's filter policy and fanned out in one commit:
//! messages into subscribed queues (the notification envelope, or the raw message with its
//! attributes), pending deliveries for functions and HTTP endpoints.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use sluice_store::{DedupRecord, Store, Write};

use super::deliver::{Delivery, Target};
use super::signing::{self, Signer};
use super::{Subscription, Topic, TopicError, invalid};
use crate::message::{AttributeValue, Attributes};
use crate::{Broker, DEDUPLICATION_WINDOW_MS, Send, Staged, lock, stage};

/// The largest message with its attributes, and the largest batch: 256 KiB.
pub const MAX_MESSAGE_BYTES: usize = 262_144;

/// One message to publish.
#[derive(Debug, Clone, Default)]
pub struct Publication {
    pub message: String,
    pub subject: Option<String>,
    /// `MessageStructure: json`: `message` holds one message per protocol.
    pub structure_json: bool,
    pub attributes: Attributes,
    pub group_id: Option<String>,
    pub deduplication_id: Option<String>,
    pub trace_header: Option<String>,
}

/// What Publish answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub message_id: String,
    /// FIFO topics.
    pub sequence_number: Option<String>,
}

/// A checked publication: its message for each protocol.
struct Checked {
    publication: Publication,
    /// `MessageStructure: json`: protocol → message (`default` included).
    per_protocol: Option<BTreeMap<String, String>>,
}

impl Checked {
    fn message_for(&self, protocol: &str) -> &str {
        match &self.per_protocol {
            Some(map) => map
                .get(protocol)
                .or_else(|| map.get("default"))
                .map_or("", String::as_str),
            None => &self.publication.message,
        }
    }
}

fn size(publication: &Publication) -> usize {
    publication.message.len()
        + publication
            .attributes
            .iter()
            .map(|(name, attribute)| {
                name.len()
                    + attribute.data_type.len()
                    + match &attribute.value {
                        AttributeValue::String(s) => s.len(),
                        AttributeValue::Binary(b) => b.len(),
                    }
            })
            .sum::<usize>()
}

fn check(topic: &Topic, publication: Publication) -> Result<Checked, TopicError> {
    if let Some(subject) = &publication.subject
        && (subject.is_empty()
            || subject.chars().count() > 100
            || subject
                .chars()
                .any(|c| !c.is_ascii() || c.is_ascii_control()))
    {
        return Err(invalid("Subject"));
    }
    if publication.message.is_empty() {
        return Err(invalid("Empty message"));
    }
    if size(&publication) > MAX_MESSAGE_BYTES {
        return Err(invalid("Message too long"));
    }
    if topic.fifo {
        if publication.group_id.is_none() {
            return Err(invalid(
                "The MessageGroupId parameter is required for FIFO topics",
            ));
        }
        let content_based = lock(&topic.state)
            .attributes
            .get("ContentBasedDeduplication")
            .is_some_and(|v| v == "true");
        if publication.deduplication_id.is_none() && !content_based {
            return Err(invalid(
                "The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
            ));
        }
    } else if publication.deduplication_id.is_some() {
        return Err(invalid(
            "MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type",
        ));
    }
    let per_protocol = if publication.structure_json {
        let value: Value = serde_json::from_str(&publication.message)
            .map_err(|_| invalid("Message Structure - JSON message body failed to parse"))?;
        let Value::Object(object) = value else {
            return Err(invalid(
                "Message Structure - JSON message body failed to parse",
            ));
        };
        // Only string values count; others are ignored, as AWS does.
        let map: BTreeMap<String, String> = object
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k, s)),
                _ => None,
            })
            .collect();
        if !map.contains_key("default") {
            return Err(invalid(
                "Message Structure - No default entry in JSON message body",
            ));
        }
        Some(map)
    } else {
        None
    };
    Ok(Checked {
        publication,
        per_protocol,
    })
}

/// AWS's timestamp: UTC, milliseconds.
pub(super) fn timestamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// A notification's fields common to every subscription, signed.
pub(super) struct Notification {
    pub message_id: String,
    pub sequence_number: Option<String>,
    pub topic_arn: String,
    pub subject: Option<String>,
    pub timestamp: String,
    pub signature_version: String,
    pub attributes: Attributes,
    /// Signatures made so far, by message text: subscriptions that get the same text share
    /// one (signing is the costly part of a fan-out).
    pub signatures: std::cell::RefCell<Vec<(String, String)>>,
}

impl Notification {
    /// The JSON envelope queues and HTTP endpoints receive (field names of `names`).
    pub(super) fn envelope(
        &self,
        message: &str,
        signer: &Signer,
        endpoint: &str,
        subscription_arn: &str,
        lambda: bool,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("Type".into(), json!("Notification"));
        out.insert("MessageId".into(), json!(self.message_id));
        if let Some(sequence) = &self.sequence_number {
            out.insert("SequenceNumber".into(), json!(sequence));
        }
        out.insert("TopicArn".into(), json!(self.topic_arn));
        match &self.subject {
            Some(subject) => {
                out.insert("Subject".into(), json!(subject));
            }
            // Lambda's event always has the field.
            None if lambda => {
                out.insert("Subject".into(), Value::Null);
            }
            None => {}
        }
        out.insert("Message".into(), json!(message));
        out.insert("Timestamp".into(), json!(self.timestamp));
        out.insert("SignatureVersion".into(), json!(self.signature_version));
        let cached = self
            .signatures
            .borrow()
            .iter()
            .find(|(text, _)| text == message)
            .map(|(_, signature)| signature.clone());
        let signature = cached.unwrap_or_else(|| {
            let signature = signer.sign(&self.signature_version, &out);
            self.signatures
                .borrow_mut()
                .push((message.to_owned(), signature.clone()));
            signature
        });
        out.insert("Signature".into(), json!(signature));
        let (cert, unsubscribe) = if lambda {
            ("SigningCertUrl", "UnsubscribeUrl")
        } else {
            ("SigningCertURL", "UnsubscribeURL")
        };
        out.insert(
            cert.into(),
            json!(format!("{endpoint}{}", signing::CERT_PATH)),
        );
        out.insert(
            unsubscribe.into(),
            json!(format!(
                "{endpoint}/?Action=Unsubscribe&SubscriptionArn={subscription_arn}"
            )),
        );
        if !self.attributes.is_empty() || lambda {
            let attributes: Map<String, Value> = self
                .attributes
                .iter()
                .map(|(name, attribute)| {
                    let value = match &attribute.value {
                        AttributeValue::String(s) => s.clone(),
                        AttributeValue::Binary(b) => {
                            use base64::Engine as _;
                            base64::engine::general_purpose::STANDARD.encode(b)
                        }
                    };
                    (
                        name.clone(),
                        json!({"Type": attribute.data_type, "Value": value}),
                    )
                })
                .collect();
            out.insert("MessageAttributes".into(), Value::Object(attributes));
        }
        out
    }
}

/// What a subscription's filter policy sees of a publication.
fn matches(subscription: &Subscription, checked: &Checked, attributes_view: &Value) -> bool {
    let Some(filter) = lock(&subscription.state).filter.clone() else {
        return true;
    };
    match filter.dialect() {
        sluice_patterns::Dialect::SnsBody => {
            match sluice_patterns::parse_body(checked.message_for(&subscription.protocol)) {
                Some(body) => filter.matches(&body),
                None => false,
            }
        }
        _ => filter.matches(attributes_view),
    }
}

fn attributes_view(attributes: &Attributes) -> Value {
    let wire: Map<String, Value> = attributes
        .iter()
        .filter_map(|(name, attribute)| match &attribute.value {
            AttributeValue::String(s) => Some((
                name.clone(),
                json!({"DataType": attribute.data_type, "StringValue": s}),
            )),
            AttributeValue::Binary(_) => None,
        })
        .collect();
    sluice_patterns::message_attributes(&Value::Object(wire))
}

impl<S: Store> Broker<S> {
    /// The notification signer, made (and stored) on first use.
    pub async fn signer(&self) -> Result<Arc<Signer>, TopicError> {
        self.inner
            .topics
            .signer
            .get_or_try_init(|| async {
                let stored = self
                    .inner
                    .store
                    .resources(signing::KEY_KIND)
                    .await?
                    .into_iter()
                    .next()
                    .and_then(|r| serde_json::from_slice::<signing::Stored>(&r.body).ok());
                if let Some(Ok(signer)) = stored.map(|s| Signer::from_stored(&s)) {
                    return Ok(Arc::new(signer));
                }
                let (signer, stored) = tokio::task::spawn_blocking(Signer::generate)
                    .await
                    .map_err(|e| TopicError::Unavailable(e.to_string()))?
                    .map_err(TopicError::Unavailable)?;
                self.inner
                    .store
                    .commit(vec![Write::PutResource(sluice_store::ResourceRecord {
                        kind: signing::KEY_KIND.into(),
                        key: "default".into(),
                        body: serde_json::to_vec(&stored).unwrap_or_default(),
                    })])
                    .await?;
                Ok(Arc::new(signer))
            })
            .await
            .cloned()
    }

    /// Publishes `publications` to the topic in one commit (all or none: AWS refuses a batch
    /// with an invalid entry). `endpoint` is the service's URL as the client reached it, for
    /// the notifications' `SigningCertURL` and `UnsubscribeURL`.
    pub async fn publish(
        &self,
        topic_arn: &str,
        parameter: &str,
        publications: Vec<Publication>,
        endpoint: &str,
    ) -> Result<Vec<Published>, TopicError> {
        let topic = self.topic(parameter, topic_arn)?;
        let batch = publications.len() > 1;
        let total: usize = publications.iter().map(size).sum();
        let checked = publications
            .into_iter()
            .map(|p| check(&topic, p))
            .collect::<Result<Vec<_>, _>>()?;
        if batch && total > MAX_MESSAGE_BYTES {
            return Err(TopicError::BatchTooLong);
        }
        let signer = self.signer().await?;
        let now = self.inner.clock.now_ms();
        let timestamp = timestamp(now);
        let (signature_version, subscriptions) = {
            let state = lock(&topic.state);
            (
                state
                    .attributes
                    .get("SignatureVersion")
                    .cloned()
                    .unwrap_or_else(|| "1".into()),
                state.subscriptions.clone(),
            )
        };
        let mut published = Vec::with_capacity(checked.len());
        let mut writes = Vec::new();
        let mut staged: Vec<Staged> = Vec::new();
        let mut deliveries = Vec::new();
        let mut dedup_keys = Vec::new();
        // Queue subscriptions served by this commit, counted once it succeeds.
        let mut delivered: Vec<Arc<Subscription>> = Vec::new();
        for checked in &checked {
            let publication = &checked.publication;
            let message_id = uuid::Uuid::new_v4().to_string();
            let mut sequence_number = None;
            let mut deduplication_id = None;
            if topic.fifo {
                let id = publication
                    .deduplication_id
                    .clone()
                    .unwrap_or_else(|| crate::content_deduplication_id(&publication.message));
                let mut state = lock(&topic.state);
                if let Some((first_id, seq, expires_ms)) = state.dedup.get(&id)
                    && *expires_ms > now
                {
                    published.push(Published {
                        message_id: first_id.clone(),
                        sequence_number: Some(crate::sequence_number(*seq)),
                    });
                    continue;
                }
                let seq = state.next_seq;
                state.next_seq += 1;
                let expires_ms = now + DEDUPLICATION_WINDOW_MS;
                state
                    .dedup
                    .insert(id.clone(), (message_id.clone(), seq, expires_ms));
                dedup_keys.push(id.clone());
                writes.push(Write::PutDedup {
                    record: DedupRecord {
                        queue: topic.arn.clone(),
                        key: id.clone(),
                        message_id: message_id.clone(),
                        sequence: seq,
                        expires_ms,
                    },
                    now_ms: now,
                });
                sequence_number = Some(crate::sequence_number(seq));
                deduplication_id = Some(id);
            }
            published.push(Published {
                message_id: message_id.clone(),
                sequence_number: sequence_number.clone(),
            });
            let notification = Notification {
                message_id,
                sequence_number,
                topic_arn: topic.arn.clone(),
                subject: publication.subject.clone(),
                timestamp: timestamp.clone(),
                signature_version: signature_version.clone(),
                attributes: publication.attributes.clone(),
                signatures: std::cell::RefCell::default(),
            };
            let view = attributes_view(&publication.attributes);
            for subscription in &subscriptions {
                if !lock(&subscription.state).confirmed || !matches(subscription, checked, &view) {
                    continue;
                }
                let message = checked.message_for(&subscription.protocol);
                match subscription.protocol.as_str() {
                    "sqs" => {
                        let body = if subscription.raw() {
                            message.to_owned()
                        } else {
                            Value::Object(notification.envelope(
                                message,
                                &signer,
                                endpoint,
                                &subscription.arn,
                                false,
                            ))
                            .to_string()
                        };
                        let send = Send {
                            body,
                            attributes: if subscription.raw() {
                                publication.attributes.clone()
                            } else {
                                Attributes::new()
                            },
                            delay_seconds: None,
                            trace_header: publication.trace_header.clone(),
                            group_id: publication.group_id.clone(),
                            deduplication_id: deduplication_id.clone(),
                        };
                        let target = self
                            .queue_by_arn(&subscription.endpoint)
                            .or_else(|| self.dead_letter_queue(subscription));
                        match target {
                            Some(queue) => {
                                let mut one = stage(&queue, vec![send], now);
                                if let Some(Err(error)) = one.outcomes.first() {
                                    tracing::warn!(subscription = %subscription.arn, %error, "queue refused a notification");
                                }
                                writes.append(&mut one.writes);
                                staged.push(one);
                                delivered.push(Arc::clone(subscription));
                            }
                            None => {
                                crate::bump(&subscription.counters.failed, 1);
                                tracing::warn!(subscription = %subscription.arn, "the subscribed queue does not exist: notification dropped");
                            }
                        }
                    }
                    "lambda" => {
                        let record = json!({"Records": [{
                            "EventSource": "aws:sns",
                            "EventVersion": "1.0",
                            "EventSubscriptionArn": subscription.arn,
                            "Sns": Value::Object(notification.envelope(
                                message,
                                &signer,
                                endpoint,
                                &subscription.arn,
                                true,
                            )),
                        }]});
                        deliveries.push(Delivery::new(
                            &subscription.arn,
                            Target::Lambda {
                                function_arn: subscription.endpoint.clone(),
                                payload: record.to_string(),
                            },
                        ));
                    }
                    "http" | "https" => {
                        let raw = subscription.raw();
                        let body = if raw {
                            message.to_owned()
                        } else {
                            Value::Object(notification.envelope(
                                message,
                                &signer,
                                endpoint,
                                &subscription.arn,
                                false,
                            ))
                            .to_string()
                        };
                        // The delivery policy's content type (AWS's default: text).
                        let content_type = self.subscription_delivery_policy(subscription)
                            ["requestPolicy"]["headerContentType"]
                            .as_str()
                            .unwrap_or("text/plain; charset=UTF-8")
                            .to_owned();
                        deliveries.push(Delivery::new(
                            &subscription.arn,
                            Target::Http {
                                url: subscription.endpoint.clone(),
                                headers: vec![
                                    ("content-type".into(), content_type),
                                    ("x-amz-sns-message-type".into(), "Notification".into()),
                                    (
                                        "x-amz-sns-message-id".into(),
                                        notification.message_id.clone(),
                                    ),
                                    ("x-amz-sns-topic-arn".into(), topic.arn.clone()),
                                    (
                                        "x-amz-sns-subscription-arn".into(),
                                        subscription.arn.clone(),
                                    ),
                                    ("x-amz-sns-rawdelivery".into(), raw.to_string()),
                                ],
                                body,
                            },
                        ));
                    }
                    // Mail, SMS, mobile and Firehose endpoints are not reachable from here.
                    _ => {}
                }
            }
        }
        writes.extend(deliveries.iter().map(Delivery::write));
        if let Err(error) = self.inner.store.commit(writes).await {
            let mut state = lock(&topic.state);
            for key in dedup_keys {
                state.dedup.remove(&key);
            }
            return Err(error.into());
        }
        for mut one in staged {
            one.apply();
        }
        for subscription in delivered {
            crate::bump(&subscription.counters.delivered, 1);
        }
        crate::bump(&topic.published, checked.len());
        for delivery in deliveries {
            self.start_delivery(delivery);
        }
        Ok(published)
    }

    /// A subscription's dead-letter queue, when it has one that exists.
    pub(super) fn dead_letter_queue(
        &self,
        subscription: &Subscription,
    ) -> Option<Arc<crate::Queue>> {
        let attributes = lock(&subscription.state).attributes.clone();
        let target = super::attributes::dead_letter_target(&attributes).ok()??;
        self.queue_by_arn(&target)
    }

    /// The SubscriptionConfirmation an HTTP endpoint is sent.
    pub(super) fn confirmation_request(
        &self,
        topic: &Topic,
        subscription: &Subscription,
        token: &str,
        endpoint: &str,
    ) -> Delivery {
        let message_id = uuid::Uuid::new_v4().to_string();
        let mut body = Map::new();
        body.insert("Type".into(), json!("SubscriptionConfirmation"));
        body.insert("MessageId".into(), json!(message_id));
        body.insert("Token".into(), json!(token));
        body.insert("TopicArn".into(), json!(topic.arn));
        body.insert(
            "Message".into(),
            json!(format!(
                "You have chosen to subscribe to the topic {}.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
                topic.arn
            )),
        );
        body.insert(
            "SubscribeURL".into(),
            json!(format!(
                "{endpoint}/?Action=ConfirmSubscription&TopicArn={}&Token={token}",
                topic.arn
            )),
        );
        body.insert(
            "Timestamp".into(),
            json!(timestamp(self.inner.clock.now_ms())),
        );
        let version = lock(&topic.state)
            .attributes
            .get("SignatureVersion")
            .cloned()
            .unwrap_or_else(|| "1".into());
        body.insert("SignatureVersion".into(), json!(version));
        Delivery::new(
            &subscription.arn,
            Target::Confirmation {
                url: subscription.endpoint.clone(),
                headers: vec![
                    (
                        "x-amz-sns-message-type".into(),
                        "SubscriptionConfirmation".into(),
                    ),
                    ("x-amz-sns-message-id".into(), message_id),
                    ("x-amz-sns-topic-arn".into(), topic.arn.clone()),
                ],
                unsigned: Value::Object(body).to_string(),
                cert_url: format!("{endpoint}{}", signing::CERT_PATH),
            },
        )
    }
}
