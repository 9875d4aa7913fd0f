//! Topics with SNS's semantics, beside the queues in the same store: a topic and its
//! subscriptions are control-plane records (the store's `resources`), a publication is
//! committed with everything it fans out to (messages in subscribed queues, pending deliveries
//! to functions and HTTP endpoints) in one commit before it is acknowledged.
//!
//! - `attributes.rs`: AWS's rules for topic and subscription attributes;
//! - `publish.rs`: checking a publication, filter policies, the fan-out, the notification;
//! - `deliver.rs`: deliveries that leave the store (functions, HTTP), retried per policy;
//! - `signing.rs`: the key and certificate that sign notifications.

mod attributes;
mod deliver;
mod publish;
pub mod signing;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sluice_patterns::Pattern;
use sluice_store::{ResourceRecord, Store, Write};
use sluice_types::{Arn, ArnError, Scope};

pub use deliver::{Endpoints, HttpRequest};
pub use publish::{Publication, Published};

use crate::{Broker, lock};

const TOPIC_KIND: &str = "sns-topic";
const SUBSCRIPTION_KIND: &str = "sns-subscription";

/// The most tags a topic carries.
pub const MAX_TOPIC_TAGS: usize = 50;
/// The most subscriptions one page of ListSubscriptions(ByTopic) holds.
pub const SUBSCRIPTIONS_PAGE: usize = 100;
/// The most topics one page of ListTopics holds.
pub const TOPICS_PAGE: usize = 100;

/// What goes wrong with a topic or subscription, by the code SNS answers with; messages are
/// AWS's, whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// `NotFound` (404).
    #[error("{0}")]
    NotFound(String),
    /// `InvalidParameter`.
    #[error("{0}")]
    InvalidParameter(String),
    /// `ParameterValueInvalid` (message attributes).
    #[error("{0}")]
    ParameterValueInvalid(String),
    /// `BatchRequestTooLong`.
    #[error("The length of all the messages put together is more than the limit.")]
    BatchTooLong,
    /// The store could not commit: retryable.
    #[error("{0}")]
    Unavailable(String),
}

impl From<sluice_store::Error> for TopicError {
    fn from(error: sluice_store::Error) -> Self {
        Self::Unavailable(error.to_string())
    }
}

fn invalid(message: impl std::fmt::Display) -> TopicError {
    TopicError::InvalidParameter(format!("Invalid parameter: {message}"))
}

fn topic_not_found() -> TopicError {
    TopicError::NotFound("Topic does not exist".into())
}

fn subscription_not_found() -> TopicError {
    TopicError::NotFound("Subscription does not exist".into())
}

/// One topic: its attributes, tags and subscriptions.
pub struct Topic {
    pub arn: String,
    pub name: String,
    pub fifo: bool,
    /// Publications accepted since the server started.
    pub published: std::sync::atomic::AtomicU64,
    state: Mutex<TopicState>,
}

struct TopicState {
    /// What was set (DisplayName, Policy, DeliveryPolicy, ...), not the computed ones.
    attributes: BTreeMap<String, String>,
    tags: Vec<(String, String)>,
    subscriptions: Vec<Arc<Subscription>>,
    deleted_subscriptions: u64,
    /// FIFO topics: deduplication id → (message id, sequence, expiry).
    dedup: HashMap<String, (String, u64, i64)>,
    next_seq: u64,
}

/// What a topic's record holds.
#[derive(Serialize, Deserialize)]
struct TopicRecord {
    name: String,
    attributes: BTreeMap<String, String>,
    tags: Vec<(String, String)>,
}

/// One subscription of a topic to an endpoint.
pub struct Subscription {
    pub arn: String,
    pub topic_arn: String,
    pub protocol: String,
    pub endpoint: String,
    pub owner: String,
    /// Deliveries since the server started.
    pub counters: DeliveryCounters,
    state: Mutex<SubscriptionState>,
}

/// A subscription's deliveries since the server started.
#[derive(Debug, Default)]
pub struct DeliveryCounters {
    pub delivered: std::sync::atomic::AtomicU64,
    /// Given up (after the delivery policy's retries), to the dead-letter queue if any.
    pub failed: std::sync::atomic::AtomicU64,
    /// Publications the filter policy kept out.
    pub filtered: std::sync::atomic::AtomicU64,
}

/// A topic's state at a glance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicStats {
    pub arn: String,
    pub fifo: bool,
    pub published: u64,
    pub subscriptions: Vec<SubscriptionStats>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionStats {
    pub arn: String,
    pub protocol: String,
    pub endpoint: String,
    pub confirmed: bool,
    pub delivered: u64,
    pub failed: u64,
    pub filtered: u64,
}

struct SubscriptionState {
    attributes: BTreeMap<String, String>,
    /// The `FilterPolicy`, parsed in its scope.
    filter: Option<Arc<Pattern>>,
    confirmed: bool,
    /// The confirmation token sent to an HTTP endpoint.
    token: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct SubscriptionRecord {
    topic_arn: String,
    protocol: String,
    endpoint: String,
    owner: String,
    attributes: BTreeMap<String, String>,
    confirmed: bool,
    token: Option<String>,
}

/// A subscription as listings show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSummary {
    pub arn: String,
    pub topic_arn: String,
    pub protocol: String,
    pub endpoint: String,
    pub owner: String,
    pub confirmed: bool,
}

/// What Subscribe answers: the subscription's ARN, or `None` while it waits for its
/// endpoint's confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribed {
    pub arn: String,
    pub confirmed: bool,
}

/// The protocols a subscription may use.
const PROTOCOLS: &[&str] = &[
    "http",
    "https",
    "email",
    "email-json",
    "sms",
    "sqs",
    "application",
    "lambda",
    "firehose",
];

impl Topic {
    fn record(&self, state: &TopicState) -> Write {
        let body = serde_json::to_vec(&TopicRecord {
            name: self.name.clone(),
            attributes: state.attributes.clone(),
            tags: state.tags.clone(),
        })
        .unwrap_or_default();
        Write::PutResource(ResourceRecord {
            kind: TOPIC_KIND.into(),
            key: self.arn.clone(),
            body,
        })
    }

    pub fn subscriptions(&self) -> Vec<Arc<Subscription>> {
        lock(&self.state).subscriptions.clone()
    }
}

impl Subscription {
    fn record(&self, state: &SubscriptionState) -> Write {
        let body = serde_json::to_vec(&SubscriptionRecord {
            topic_arn: self.topic_arn.clone(),
            protocol: self.protocol.clone(),
            endpoint: self.endpoint.clone(),
            owner: self.owner.clone(),
            attributes: state.attributes.clone(),
            confirmed: state.confirmed,
            token: state.token.clone(),
        })
        .unwrap_or_default();
        Write::PutResource(ResourceRecord {
            kind: SUBSCRIPTION_KIND.into(),
            key: self.arn.clone(),
            body,
        })
    }

    fn summary(&self) -> SubscriptionSummary {
        SubscriptionSummary {
            arn: self.arn.clone(),
            topic_arn: self.topic_arn.clone(),
            protocol: self.protocol.clone(),
            endpoint: self.endpoint.clone(),
            owner: self.owner.clone(),
            confirmed: lock(&self.state).confirmed,
        }
    }

    pub fn raw(&self) -> bool {
        lock(&self.state)
            .attributes
            .get("RawMessageDelivery")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

/// The topics, kept with the queues.
#[derive(Default)]
pub(crate) struct Topics {
    /// By ARN.
    topics: Mutex<BTreeMap<String, Arc<Topic>>>,
    /// By ARN.
    subscriptions: Mutex<HashMap<String, Arc<Subscription>>>,
    pub(crate) deliveries: deliver::Deliveries,
    /// Made on first use, once (key generation takes a while).
    pub(crate) signer: tokio::sync::OnceCell<Arc<signing::Signer>>,
    /// The service's URL when no request names one (publications by destinations, pipes).
    endpoint: std::sync::OnceLock<String>,
}

impl Topics {
    /// Loads the topics and subscriptions `store` holds.
    pub(crate) async fn load<S: Store>(
        store: &S,
        now_ms: i64,
    ) -> Result<Self, sluice_store::Error> {
        let topics = Topics::default();
        let mut by_arn = BTreeMap::new();
        for record in store.resources(TOPIC_KIND).await? {
            let Ok(body) = serde_json::from_slice::<TopicRecord>(&record.body) else {
                tracing::warn!(topic = %record.key, "unreadable topic record skipped");
                continue;
            };
            let dedup: HashMap<_, _> = store
                .dedup(&record.key, now_ms)
                .await?
                .into_iter()
                .map(|d| (d.key, (d.message_id, d.sequence, d.expires_ms)))
                .collect();
            let next_seq = dedup.values().map(|d| d.1).max().unwrap_or(0) + 1;
            let fifo = body
                .attributes
                .get("FifoTopic")
                .is_some_and(|v| v == "true");
            by_arn.insert(
                record.key.clone(),
                Arc::new(Topic {
                    arn: record.key,
                    name: body.name,
                    fifo,
                    published: Default::default(),
                    state: Mutex::new(TopicState {
                        attributes: body.attributes,
                        tags: body.tags,
                        subscriptions: Vec::new(),
                        deleted_subscriptions: 0,
                        dedup,
                        next_seq,
                    }),
                }),
            );
        }
        let mut subscriptions = HashMap::new();
        for record in store.resources(SUBSCRIPTION_KIND).await? {
            let Ok(body) = serde_json::from_slice::<SubscriptionRecord>(&record.body) else {
                tracing::warn!(subscription = %record.key, "unreadable subscription record skipped");
                continue;
            };
            let Some(topic) = by_arn.get(&body.topic_arn) else {
                continue;
            };
            let filter = attributes::filter_of(&body.attributes)
                .ok()
                .flatten()
                .map(Arc::new);
            let subscription = Arc::new(Subscription {
                arn: record.key.clone(),
                topic_arn: body.topic_arn,
                protocol: body.protocol,
                endpoint: body.endpoint,
                owner: body.owner,
                counters: DeliveryCounters::default(),
                state: Mutex::new(SubscriptionState {
                    attributes: body.attributes,
                    filter,
                    confirmed: body.confirmed,
                    token: body.token,
                }),
            });
            lock(&topic.state)
                .subscriptions
                .push(Arc::clone(&subscription));
            subscriptions.insert(record.key, subscription);
        }
        *lock(&topics.topics) = by_arn;
        *lock(&topics.subscriptions) = subscriptions;
        topics.deliveries.load(store).await?;
        Ok(topics)
    }
}

/// Checks a topic ARN's shape (`parameter` names it in the message) and that it is this
/// scope's (partition, region and account).
fn check_arn(parameter: &str, arn: &str, scope: &Scope) -> Result<(), TopicError> {
    match Arn::parse(arn) {
        Err(ArnError::TooFewFields { found }) => Err(invalid(format_args!(
            "{parameter} Reason: An ARN must have at least 6 elements, not {found}"
        ))),
        Ok(arn) if arn.service == "sns" && arn.is_in(scope) => Ok(()),
        _ => Err(invalid(parameter)),
    }
}

fn valid_topic_name(name: &str, fifo: bool) -> bool {
    let base = if fifo {
        match name.strip_suffix(".fifo") {
            Some(base) => base,
            None => return false,
        }
    } else {
        name
    };
    !name.is_empty()
        && name.len() <= 256
        && base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl<S: Store> Broker<S> {
    fn topics(&self) -> &Topics {
        &self.inner.topics
    }

    /// Sets the service's URL for notifications published outside a request (once).
    pub fn set_endpoint(&self, url: String) {
        let _ = self.topics().endpoint.set(url);
    }

    /// The service's URL for notifications published outside a request.
    pub fn endpoint(&self) -> String {
        self.topics()
            .endpoint
            .get()
            .cloned()
            .unwrap_or_else(|| "http://localhost:4566".to_owned())
    }

    fn account(&self) -> &str {
        &self.inner.scope.account
    }

    /// The topic with this ARN (checked for shape under `parameter`).
    pub fn topic(&self, parameter: &str, arn: &str) -> Result<Arc<Topic>, TopicError> {
        check_arn(parameter, arn, &self.inner.scope)?;
        lock(&self.topics().topics)
            .get(arn)
            .cloned()
            .ok_or_else(topic_not_found)
    }

    /// Creates a topic, or answers the existing one when its attributes (and tags, when given)
    /// are the same.
    pub async fn create_topic(
        &self,
        name: &str,
        given: &BTreeMap<String, String>,
        tags: &[(String, String)],
    ) -> Result<String, TopicError> {
        let fifo_flag = given
            .get("FifoTopic")
            .map(|v| v.eq_ignore_ascii_case("true"));
        let fifo = fifo_flag.unwrap_or(false);
        if fifo && !valid_topic_name(name, true) {
            return Err(invalid(
                "Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long.",
            ));
        }
        if !fifo && !valid_topic_name(name, false) {
            return Err(invalid("Topic Name"));
        }
        attributes::check_tags(tags, 0)?;
        let attributes = attributes::apply_topic(&BTreeMap::new(), given, fifo, true)?;
        let arn = self.inner.scope.arn("sns", name);
        if let Some(existing) = lock(&self.topics().topics).get(&arn).cloned() {
            let state = lock(&existing.state);
            let same = given
                .iter()
                .all(|(k, v)| state.attributes.get(k).is_some_and(|w| w == v));
            if !same {
                return Err(invalid(
                    "Attributes Reason: Topic already exists with different attributes",
                ));
            }
            if !tags.is_empty() && !same_tags(&state.tags, tags) {
                return Err(invalid(
                    "Tags Reason: Topic already exists with different tags",
                ));
            }
            return Ok(arn);
        }
        let topic = Arc::new(Topic {
            arn: arn.clone(),
            name: name.to_owned(),
            fifo,
            published: Default::default(),
            state: Mutex::new(TopicState {
                attributes,
                tags: tags.to_vec(),
                subscriptions: Vec::new(),
                deleted_subscriptions: 0,
                dedup: HashMap::new(),
                next_seq: 1,
            }),
        });
        // The key that signs its notifications exists before the first publication (making
        // one takes a while).
        self.signer().await?;
        let write = topic.record(&lock(&topic.state));
        self.inner.store.commit(vec![write]).await?;
        lock(&self.topics().topics).insert(arn.clone(), topic);
        Ok(arn)
    }

    /// Deletes a topic and its subscriptions; a missing topic is not an error.
    pub async fn delete_topic(&self, arn: &str) -> Result<(), TopicError> {
        let topic = match self.topic("TopicArn", arn) {
            Ok(topic) => topic,
            Err(TopicError::NotFound(_)) => return Ok(()),
            Err(error) => return Err(error),
        };
        let subscriptions = lock(&topic.state).subscriptions.clone();
        let mut writes = vec![Write::DeleteResource {
            kind: TOPIC_KIND.into(),
            key: arn.to_owned(),
        }];
        writes.extend(subscriptions.iter().map(|s| Write::DeleteResource {
            kind: SUBSCRIPTION_KIND.into(),
            key: s.arn.clone(),
        }));
        self.inner.store.commit(writes).await?;
        lock(&self.topics().topics).remove(arn);
        let mut by_arn = lock(&self.topics().subscriptions);
        for subscription in subscriptions {
            by_arn.remove(&subscription.arn);
        }
        Ok(())
    }

    /// Every topic's state at a glance, by ARN.
    pub fn topic_stats(&self) -> Vec<TopicStats> {
        let topics: Vec<Arc<Topic>> = lock(&self.topics().topics).values().cloned().collect();
        topics
            .iter()
            .map(|topic| TopicStats {
                arn: topic.arn.clone(),
                fifo: topic.fifo,
                published: crate::read(&topic.published),
                subscriptions: topic
                    .subscriptions()
                    .iter()
                    .map(|s| SubscriptionStats {
                        arn: s.arn.clone(),
                        protocol: s.protocol.clone(),
                        endpoint: s.endpoint.clone(),
                        confirmed: lock(&s.state).confirmed,
                        delivered: crate::read(&s.counters.delivered),
                        failed: crate::read(&s.counters.failed),
                        filtered: crate::read(&s.counters.filtered),
                    })
                    .collect(),
            })
            .collect()
    }

    /// Topic ARNs in order, a page after `after`.
    pub fn topic_arns(&self, after: Option<&str>) -> (Vec<String>, Option<String>) {
        let topics = lock(&self.topics().topics);
        let mut arns: Vec<String> = match after {
            Some(after) => topics
                .range::<str, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
                .map(|(arn, _)| arn.clone())
                .take(TOPICS_PAGE + 1)
                .collect(),
            None => topics.keys().take(TOPICS_PAGE + 1).cloned().collect(),
        };
        let next = (arns.len() > TOPICS_PAGE).then(|| {
            arns.truncate(TOPICS_PAGE);
            arns.last().cloned().unwrap_or_default()
        });
        (arns, next)
    }

    /// Every attribute GetTopicAttributes shows.
    pub fn topic_attributes(&self, arn: &str) -> Result<BTreeMap<String, String>, TopicError> {
        let topic = self.topic("TopicArn", arn)?;
        let state = lock(&topic.state);
        let mut out = state.attributes.clone();
        let (confirmed, pending) = state.subscriptions.iter().fold((0, 0), |(c, p), s| {
            if lock(&s.state).confirmed {
                (c + 1, p)
            } else {
                (c, p + 1)
            }
        });
        out.insert("TopicArn".into(), topic.arn.clone());
        out.insert("Owner".into(), self.account().to_owned());
        out.insert("SubscriptionsConfirmed".into(), confirmed.to_string());
        out.insert("SubscriptionsPending".into(), pending.to_string());
        out.insert(
            "SubscriptionsDeleted".into(),
            state.deleted_subscriptions.to_string(),
        );
        out.entry("DisplayName".into()).or_default();
        out.entry("Policy".into())
            .or_insert_with(|| attributes::default_policy(&topic.arn, self.account()));
        out.insert(
            "EffectiveDeliveryPolicy".into(),
            attributes::effective_delivery_policy(state.attributes.get("DeliveryPolicy")),
        );
        if topic.fifo {
            out.entry("ContentBasedDeduplication".into())
                .or_insert_with(|| "false".into());
        }
        Ok(out)
    }

    /// Sets one topic attribute.
    pub async fn set_topic_attribute(
        &self,
        arn: &str,
        name: &str,
        value: &str,
    ) -> Result<(), TopicError> {
        let topic = self.topic("TopicArn", arn)?;
        let given = BTreeMap::from([(name.to_owned(), value.to_owned())]);
        let write = {
            let mut state = lock(&topic.state);
            state.attributes =
                attributes::apply_topic(&state.attributes, &given, topic.fifo, false)?;
            topic.record(&state)
        };
        self.inner.store.commit(vec![write]).await?;
        Ok(())
    }

    /// A topic's tags.
    pub fn topic_tags(&self, arn: &str) -> Result<Vec<(String, String)>, TopicError> {
        let topic = self.resource_topic(arn)?;
        Ok(lock(&topic.state).tags.clone())
    }

    /// Adds or replaces `add`, then removes `remove`.
    pub async fn change_topic_tags(
        &self,
        arn: &str,
        add: &[(String, String)],
        remove: &[String],
    ) -> Result<(), TopicError> {
        let topic = self.resource_topic(arn)?;
        let write = {
            let mut state = lock(&topic.state);
            let mut tags = state.tags.clone();
            attributes::check_tags(add, 0)?;
            for (key, value) in add {
                match tags.iter_mut().find(|(k, _)| k == key) {
                    Some(tag) => tag.1.clone_from(value),
                    None => tags.push((key.clone(), value.clone())),
                }
            }
            tags.retain(|(k, _)| !remove.contains(k));
            if tags.len() > MAX_TOPIC_TAGS {
                return Err(TopicError::InvalidParameter(
                    "Could not complete request: tag quota of per resource exceeded".into(),
                ));
            }
            state.tags = tags;
            topic.record(&state)
        };
        self.inner.store.commit(vec![write]).await?;
        Ok(())
    }

    /// Tag operations name the topic as `ResourceArn` and answer a missing one with
    /// `ResourceNotFound`... which the adapter maps from `NotFound`.
    fn resource_topic(&self, arn: &str) -> Result<Arc<Topic>, TopicError> {
        self.topic("ResourceArn", arn)
    }

    /// Subscribes `endpoint` to the topic. Queues and functions are confirmed at once; an
    /// HTTP endpoint is sent a confirmation request and stays pending until it confirms.
    pub async fn subscribe(
        &self,
        topic_arn: &str,
        protocol: &str,
        endpoint: Option<&str>,
        given: &BTreeMap<String, String>,
        service_endpoint: &str,
    ) -> Result<Subscribed, TopicError> {
        let topic = self.topic("TopicArn", topic_arn)?;
        let protocol = protocol.to_ascii_lowercase();
        if !PROTOCOLS.contains(&protocol.as_str()) {
            return Err(invalid(format_args!(
                "Amazon SNS does not support this protocol string: {protocol}"
            )));
        }
        let endpoint = endpoint.unwrap_or_default();
        self.check_endpoint(&topic, &protocol, endpoint)?;
        let attributes = attributes::apply_subscription(&BTreeMap::new(), given, &protocol)
            .map_err(|reason| invalid(format_args!("Attributes Reason: {reason}")))?;
        self.check_redrive(&topic, &protocol, endpoint, &attributes)
            .map_err(|reason| invalid(format_args!("Attributes Reason: {reason}")))?;
        let filter = attributes::filter_of(&attributes).map_err(|e| {
            TopicError::InvalidParameter(e.sns_message(sluice_patterns::SnsAction::Subscribe))
        })?;
        // The same endpoint subscribed again: the same subscription, when nothing differs.
        let existing = lock(&topic.state)
            .subscriptions
            .iter()
            .find(|s| s.protocol == protocol && s.endpoint == endpoint)
            .cloned();
        if let Some(existing) = existing {
            let state = lock(&existing.state);
            let same = given
                .iter()
                .all(|(k, v)| state.attributes.get(k).is_some_and(|w| w == v));
            if !same {
                return Err(invalid(
                    "Attributes Reason: Subscription already exists with different attributes",
                ));
            }
            return Ok(Subscribed {
                arn: existing.arn.clone(),
                confirmed: state.confirmed,
            });
        }
        let confirmed = matches!(
            protocol.as_str(),
            "sqs" | "lambda" | "firehose" | "application"
        );
        let token = (!confirmed).then(signing::confirmation_token);
        let subscription = Arc::new(Subscription {
            arn: format!("{}:{}", topic.arn, uuid::Uuid::new_v4()),
            topic_arn: topic.arn.clone(),
            protocol: protocol.clone(),
            endpoint: endpoint.to_owned(),
            owner: self.account().to_owned(),
            counters: DeliveryCounters::default(),
            state: Mutex::new(SubscriptionState {
                attributes,
                filter: filter.map(Arc::new),
                confirmed,
                token: token.clone(),
            }),
        });
        let mut writes = vec![subscription.record(&lock(&subscription.state))];
        let confirmation = match (&token, protocol.as_str()) {
            (Some(token), "http" | "https") => {
                Some(self.confirmation_request(&topic, &subscription, token, service_endpoint))
            }
            _ => None,
        };
        if let Some(delivery) = &confirmation {
            writes.push(delivery.write());
        }
        self.inner.store.commit(writes).await?;
        lock(&topic.state)
            .subscriptions
            .push(Arc::clone(&subscription));
        lock(&self.topics().subscriptions)
            .insert(subscription.arn.clone(), Arc::clone(&subscription));
        if let Some(delivery) = confirmation {
            self.start_delivery(delivery);
        }
        Ok(Subscribed {
            arn: subscription.arn.clone(),
            confirmed,
        })
    }

    fn check_endpoint(
        &self,
        topic: &Topic,
        protocol: &str,
        endpoint: &str,
    ) -> Result<(), TopicError> {
        match protocol {
            "sqs" => {
                let queue = Arn::parse(endpoint)
                    .ok()
                    .filter(|arn| arn.service == "sqs" && !arn.resource.contains(':'))
                    .ok_or_else(|| invalid("SQS endpoint ARN"))?;
                if !topic.fifo && queue.resource.ends_with(".fifo") {
                    return Err(invalid(
                        "Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics",
                    ));
                }
            }
            "lambda"
                if Arn::parse(endpoint)
                    .ok()
                    .and_then(|arn| arn.function())
                    .is_none() =>
            {
                return Err(invalid("Lambda endpoint ARN"));
            }
            "http" | "https" => {
                let scheme = format!("{protocol}://");
                if !endpoint.starts_with(&scheme) || endpoint.len() <= scheme.len() {
                    return Err(invalid(format_args!(
                        "Endpoint Reason: {} endpoint must start with {scheme}",
                        protocol.to_ascii_uppercase()
                    )));
                }
            }
            "email" | "email-json" if !endpoint.contains('@') => {
                return Err(invalid("Email address"));
            }
            "sms" => {
                let digits = endpoint.strip_prefix('+').unwrap_or(endpoint);
                if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                    return Err(TopicError::InvalidParameter(format!(
                        "Invalid SMS endpoint: {endpoint}"
                    )));
                }
            }
            _ => {}
        }
        if topic.fifo && !matches!(protocol, "sqs") {
            return Err(invalid(format_args!(
                "Endpoint Reason: Please use FIFO SQS queue or Firehose stream as endpoints for FIFO topics"
            )));
        }
        Ok(())
    }

    /// A subscription's dead-letter queue must be an SQS ARN, and a FIFO one for a FIFO
    /// queue subscribed to a FIFO topic.
    fn check_redrive(
        &self,
        topic: &Topic,
        protocol: &str,
        endpoint: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        let Some(target) = attributes::dead_letter_target(attributes)? else {
            return Ok(());
        };
        if topic.fifo
            && protocol == "sqs"
            && endpoint.ends_with(".fifo")
            && !target.ends_with(".fifo")
        {
            return Err(
                "RedrivePolicy: must use a FIFO queue as DLQ for a FIFO Subscription to a FIFO Topic."
                    .into(),
            );
        }
        Ok(())
    }

    /// The subscription with this ARN.
    pub fn subscription(&self, arn: &str) -> Result<Arc<Subscription>, TopicError> {
        check_subscription_arn(arn)?;
        lock(&self.topics().subscriptions)
            .get(arn)
            .cloned()
            .ok_or_else(subscription_not_found)
    }

    /// Removes a subscription.
    pub async fn unsubscribe(&self, arn: &str) -> Result<(), TopicError> {
        let subscription = self.subscription(arn)?;
        self.inner
            .store
            .commit(vec![Write::DeleteResource {
                kind: SUBSCRIPTION_KIND.into(),
                key: arn.to_owned(),
            }])
            .await?;
        lock(&self.topics().subscriptions).remove(arn);
        if let Some(topic) = lock(&self.topics().topics)
            .get(&subscription.topic_arn)
            .cloned()
        {
            let mut state = lock(&topic.state);
            state.subscriptions.retain(|s| s.arn != arn);
            state.deleted_subscriptions += 1;
        }
        Ok(())
    }

    /// Confirms the subscription the token was sent for.
    pub async fn confirm_subscription(
        &self,
        topic_arn: &str,
        token: &str,
    ) -> Result<String, TopicError> {
        let topic = self.topic("TopicArn", topic_arn)?;
        let subscription = lock(&topic.state)
            .subscriptions
            .iter()
            .find(|s| lock(&s.state).token.as_deref() == Some(token))
            .cloned()
            .ok_or_else(|| TopicError::InvalidParameter("Invalid token".into()))?;
        let write = {
            let mut state = lock(&subscription.state);
            if state.confirmed {
                return Ok(subscription.arn.clone());
            }
            state.confirmed = true;
            subscription.record(&state)
        };
        self.inner.store.commit(vec![write]).await?;
        Ok(subscription.arn.clone())
    }

    /// Subscriptions in ARN order (of one topic, or all), a page after `after`.
    pub fn subscriptions(
        &self,
        topic_arn: Option<&str>,
        after: Option<&str>,
    ) -> Result<(Vec<SubscriptionSummary>, Option<String>), TopicError> {
        let mut all: Vec<SubscriptionSummary> = match topic_arn {
            Some(arn) => self
                .topic("TopicArn", arn)?
                .subscriptions()
                .iter()
                .map(|s| s.summary())
                .collect(),
            None => lock(&self.topics().subscriptions)
                .values()
                .map(|s| s.summary())
                .collect(),
        };
        all.sort_by(|a, b| a.arn.cmp(&b.arn));
        let mut page: Vec<SubscriptionSummary> = all
            .into_iter()
            .filter(|s| after.is_none_or(|after| s.arn.as_str() > after))
            .take(SUBSCRIPTIONS_PAGE + 1)
            .collect();
        let next = (page.len() > SUBSCRIPTIONS_PAGE).then(|| {
            page.truncate(SUBSCRIPTIONS_PAGE);
            page.last().map(|s| s.arn.clone()).unwrap_or_default()
        });
        Ok((page, next))
    }

    /// A subscription's HTTP delivery policy in force (its own members, else its topic's).
    pub(crate) fn subscription_delivery_policy(
        &self,
        subscription: &Subscription,
    ) -> serde_json::Value {
        let own = lock(&subscription.state)
            .attributes
            .get("DeliveryPolicy")
            .cloned();
        let topic = self
            .topic("TopicArn", &subscription.topic_arn)
            .ok()
            .and_then(|topic| lock(&topic.state).attributes.get("DeliveryPolicy").cloned());
        attributes::effective_subscription_policy(own.as_ref(), topic.as_ref())
    }

    /// Every attribute GetSubscriptionAttributes shows.
    pub fn subscription_attributes(
        &self,
        arn: &str,
    ) -> Result<BTreeMap<String, String>, TopicError> {
        let subscription = self.subscription(arn)?;
        let state = lock(&subscription.state);
        let mut out = state.attributes.clone();
        out.insert("SubscriptionArn".into(), subscription.arn.clone());
        out.insert("TopicArn".into(), subscription.topic_arn.clone());
        out.insert("Protocol".into(), subscription.protocol.clone());
        out.insert("Endpoint".into(), subscription.endpoint.clone());
        out.insert("Owner".into(), subscription.owner.clone());
        out.insert("PendingConfirmation".into(), (!state.confirmed).to_string());
        out.insert(
            "ConfirmationWasAuthenticated".into(),
            state.confirmed.to_string(),
        );
        out.insert(
            "SubscriptionPrincipal".into(),
            format!(
                "arn:{}:iam::{}:root",
                self.inner.scope.partition, subscription.owner
            ),
        );
        out.entry("RawMessageDelivery".into())
            .or_insert_with(|| "false".into());
        if out.contains_key("FilterPolicy") {
            out.entry("FilterPolicyScope".into())
                .or_insert_with(|| "MessageAttributes".into());
        }
        if matches!(subscription.protocol.as_str(), "http" | "https") {
            let topic = self.topic("TopicArn", &subscription.topic_arn)?;
            let topic_policy = lock(&topic.state).attributes.get("DeliveryPolicy").cloned();
            out.insert(
                "EffectiveDeliveryPolicy".into(),
                attributes::effective_subscription_policy(
                    state.attributes.get("DeliveryPolicy"),
                    topic_policy.as_ref(),
                )
                .to_string(),
            );
        }
        Ok(out)
    }

    /// Sets one subscription attribute.
    pub async fn set_subscription_attribute(
        &self,
        arn: &str,
        name: &str,
        value: &str,
    ) -> Result<(), TopicError> {
        let subscription = self.subscription(arn)?;
        let topic = self.topic("TopicArn", &subscription.topic_arn)?;
        let given = BTreeMap::from([(name.to_owned(), value.to_owned())]);
        let write = {
            let mut state = lock(&subscription.state);
            let attributes =
                attributes::apply_subscription(&state.attributes, &given, &subscription.protocol)
                    .map_err(invalid)?;
            self.check_redrive(
                &topic,
                &subscription.protocol,
                &subscription.endpoint,
                &attributes,
            )
            .map_err(invalid)?;
            let filter = attributes::filter_of(&attributes).map_err(|e| {
                TopicError::InvalidParameter(
                    e.sns_message(sluice_patterns::SnsAction::SetSubscriptionAttributes),
                )
            })?;
            state.attributes = attributes;
            state.filter = filter.map(Arc::new);
            subscription.record(&state)
        };
        self.inner.store.commit(vec![write]).await?;
        Ok(())
    }
}

fn check_subscription_arn(arn: &str) -> Result<(), TopicError> {
    if arn.is_empty() {
        return Err(invalid(
            "SubscriptionArn Reason: no value for required parameter",
        ));
    }
    // `arn:<partition>:sns:<region>:<account>:<topic>:<id>`
    match Arn::parse(arn) {
        Err(ArnError::TooFewFields { found }) => Err(invalid(format_args!(
            "SubscriptionArn Reason: An ARN must have at least 6 elements, not {found}"
        ))),
        Ok(arn)
            if arn.resource.split_once(':').is_some_and(|(_topic, id)| {
                !id.contains(':') && uuid::Uuid::parse_str(id).is_ok()
            }) =>
        {
            Ok(())
        }
        _ => Err(invalid("SubscriptionId")),
    }
}

fn same_tags(a: &[(String, String)], b: &[(String, String)]) -> bool {
    let a: BTreeMap<_, _> = a.iter().cloned().collect();
    let b: BTreeMap<_, _> = b.iter().cloned().collect();
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<(), TopicError>) -> String {
        result.expect_err("refused").to_string()
    }

    #[test]
    fn topic_arns_are_this_scopes_sns_arns() {
        let scope = Scope::new("us-east-1", "123456789012");
        let check = |arn| check_arn("TopicArn", arn, &scope);
        assert!(check("arn:aws:sns:us-east-1:123456789012:t").is_ok());
        assert_eq!(
            message(check("t")),
            "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 1"
        );
        assert_eq!(
            message(check("arn:aws:sns:us-east-1:123456789012")),
            "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 5"
        );
        for other in [
            "arn:aws:sqs:us-east-1:123456789012:t",
            "arn:aws:sns:eu-west-1:123456789012:t",
            "arn:aws:sns:us-east-1:000000000000:t",
            "urn:aws:sns:us-east-1:123456789012:t",
        ] {
            assert_eq!(
                message(check(other)),
                "Invalid parameter: TopicArn",
                "{other}"
            );
        }
    }

    #[test]
    fn subscription_arns_end_in_a_uuid() {
        let id = "8e1fc6ae-0c51-4f2e-9f43-2c1b7d4e5a6b";
        assert!(
            check_subscription_arn(&format!("arn:aws:sns:us-east-1:123456789012:t:{id}")).is_ok()
        );
        assert_eq!(
            message(check_subscription_arn("arn:aws:sns")),
            "Invalid parameter: SubscriptionArn Reason: An ARN must have at least 6 elements, not 3"
        );
        for bad in [
            "arn:aws:sns:us-east-1:123456789012:t".to_owned(),
            "arn:aws:sns:us-east-1:123456789012:t:not-a-uuid".to_owned(),
            format!("arn:aws:sns:us-east-1:123456789012:t:{id}:x"),
        ] {
            assert_eq!(
                message(check_subscription_arn(&bad)),
                "Invalid parameter: SubscriptionId",
                "{bad}"
            );
        }
    }
}
