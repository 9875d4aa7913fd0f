//! Deliveries that leave the store: to functions (handed to their durable event queue) and to
//! HTTP endpoints (retried per the delivery policy, then to the subscription's dead-letter
//! queue). Each is a record committed with its publication and deleted once done, so one
//! pending at a crash is delivered after the restart (at least once).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sluice_store::{ResourceRecord, Store, Write};

use super::attributes::RetryPolicy;
use crate::{Broker, Send, lock, stage};

const DELIVERY_KIND: &str = "sns-delivery";
/// Attempts at handing an event to a function before it goes to the dead-letter queue.
const FUNCTION_ATTEMPTS: u32 = 3;

/// An HTTP POST to a subscribed endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// How deliveries reach what the broker cannot: functions and HTTP endpoints. The wiring
/// provides it.
pub trait Endpoints: std::marker::Send + Sync + 'static {
    /// Hands `payload` to the function (an asynchronous invocation, durable once accepted).
    fn invoke<'a>(
        &'a self,
        function_arn: &'a str,
        payload: String,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + std::marker::Send + 'a>>;

    /// POSTs the request; the response's status code.
    fn post(
        &self,
        request: HttpRequest,
    ) -> Pin<Box<dyn Future<Output = Result<u16, String>> + std::marker::Send + '_>>;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Target {
    Lambda {
        function_arn: String,
        payload: String,
    },
    Http {
        url: String,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// A SubscriptionConfirmation, signed when sent.
    Confirmation {
        url: String,
        headers: Vec<(String, String)>,
        unsigned: String,
        cert_url: String,
    },
}

/// One pending delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Delivery {
    id: String,
    subscription_arn: String,
    target: Target,
    /// Attempts made so far.
    attempts: u32,
}

impl Delivery {
    pub(crate) fn new(subscription_arn: &str, target: Target) -> Self {
        Self {
            // Time-ordered, so a restart resumes them in order.
            id: format!(
                "{:020}-{}",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
                uuid::Uuid::new_v4().simple()
            ),
            subscription_arn: subscription_arn.to_owned(),
            target,
            attempts: 0,
        }
    }

    pub(crate) fn write(&self) -> Write {
        Write::PutResource(ResourceRecord {
            kind: DELIVERY_KIND.into(),
            key: self.id.clone(),
            body: serde_json::to_vec(self).unwrap_or_default(),
        })
    }

    fn done(&self) -> Write {
        Write::DeleteResource {
            kind: DELIVERY_KIND.into(),
            key: self.id.clone(),
        }
    }
}

/// The deliveries waiting for the endpoints to be wired, and the endpoints.
#[derive(Default)]
pub(crate) struct Deliveries {
    endpoints: OnceLock<Arc<dyn Endpoints>>,
    /// Loaded at open or started before the endpoints were set.
    waiting: Mutex<Vec<Delivery>>,
}

impl Deliveries {
    pub(crate) async fn load<S: Store>(&self, store: &S) -> Result<(), sluice_store::Error> {
        let mut waiting = Vec::new();
        for record in store.resources(DELIVERY_KIND).await? {
            match serde_json::from_slice::<Delivery>(&record.body) {
                Ok(delivery) => waiting.push(delivery),
                Err(_) => tracing::warn!(delivery = %record.key, "unreadable delivery skipped"),
            }
        }
        *lock(&self.waiting) = waiting;
        Ok(())
    }
}

impl<S: Store> Broker<S> {
    /// Wires the endpoints and starts the deliveries that were waiting for them (those left
    /// by the last run included). Call once.
    pub fn set_endpoints(&self, endpoints: Arc<dyn Endpoints>) {
        let deliveries = &self.inner.topics.deliveries;
        if deliveries.endpoints.set(endpoints).is_err() {
            return;
        }
        let waiting = std::mem::take(&mut *lock(&deliveries.waiting));
        if !waiting.is_empty() {
            tracing::info!(count = waiting.len(), "resuming topic deliveries");
        }
        for delivery in waiting {
            self.start_delivery(delivery);
        }
    }

    pub(crate) fn start_delivery(&self, delivery: Delivery) {
        let deliveries = &self.inner.topics.deliveries;
        let Some(endpoints) = deliveries.endpoints.get().cloned() else {
            lock(&deliveries.waiting).push(delivery);
            return;
        };
        let broker = self.clone();
        self.inner.tasks.spawn("topic-delivery", async move {
            broker.deliver(endpoints, delivery).await;
        });
    }

    async fn deliver(&self, endpoints: Arc<dyn Endpoints>, mut delivery: Delivery) {
        let policy = self.retry_policy(&delivery);
        loop {
            let outcome = match &delivery.target {
                Target::Lambda {
                    function_arn,
                    payload,
                } => endpoints.invoke(function_arn, payload.clone()).await,
                Target::Http { url, headers, body } => endpoints
                    .post(HttpRequest {
                        url: url.clone(),
                        headers: headers.clone(),
                        body: body.clone(),
                    })
                    .await
                    .and_then(success),
                Target::Confirmation {
                    url,
                    headers,
                    unsigned,
                    cert_url,
                } => match self.sign_confirmation(unsigned, cert_url).await {
                    Ok(body) => endpoints
                        .post(HttpRequest {
                            url: url.clone(),
                            headers: headers.clone(),
                            body,
                        })
                        .await
                        .and_then(success),
                    Err(error) => Err(error),
                },
            };
            delivery.attempts += 1;
            let retries_left = match &delivery.target {
                Target::Lambda { .. } => delivery.attempts < FUNCTION_ATTEMPTS,
                _ => delivery.attempts <= policy.retries,
            };
            match outcome {
                Ok(()) => {
                    self.finish(&delivery, None).await;
                    return;
                }
                Err(error) if retries_left => {
                    tracing::debug!(subscription = %delivery.subscription_arn, attempt = delivery.attempts, %error, "topic delivery failed; retrying");
                    // The attempt count survives a restart.
                    if self
                        .inner
                        .store
                        .commit(vec![delivery.write()])
                        .await
                        .is_err()
                    {
                        return;
                    }
                    let delay_ms = match &delivery.target {
                        Target::Lambda { .. } => 1_000,
                        _ => (policy.delay_s(delivery.attempts) * 1000.0) as i64,
                    };
                    let clock = self.inner.clock.clone();
                    clock.sleep_until(clock.now_ms() + delay_ms).await;
                }
                Err(error) => {
                    tracing::warn!(subscription = %delivery.subscription_arn, attempts = delivery.attempts, %error, "topic delivery failed");
                    self.finish(&delivery, Some(error)).await;
                    return;
                }
            }
        }
    }

    /// Forgets a delivery; a failed one goes to its subscription's dead-letter queue, in
    /// the same commit.
    async fn finish(&self, delivery: &Delivery, failure: Option<String>) {
        if let Ok(subscription) = self.subscription(&delivery.subscription_arn) {
            let counter = if failure.is_some() {
                &subscription.counters.failed
            } else {
                &subscription.counters.delivered
            };
            crate::bump(counter, 1);
        }
        let mut writes = vec![delivery.done()];
        let mut staged = None;
        if failure.is_some()
            && let Some(subscription) = self.subscription(&delivery.subscription_arn).ok()
            && let Some(queue) = self.dead_letter_queue(&subscription)
        {
            let body = match &delivery.target {
                Target::Lambda { payload, .. } => serde_json::from_str::<Value>(payload)
                    .ok()
                    .and_then(|v| {
                        v["Records"][0]["Sns"]["Message"]
                            .as_str()
                            .map(str::to_owned)
                    })
                    .unwrap_or_else(|| payload.clone()),
                Target::Http { body, .. } => body.clone(),
                Target::Confirmation { unsigned, .. } => unsigned.clone(),
            };
            let now = self.inner.clock.now_ms();
            let mut one = stage(
                &queue,
                vec![Send {
                    body,
                    ..Send::default()
                }],
                now,
            );
            writes.append(&mut one.writes);
            staged = Some(one);
        }
        match self.inner.store.commit(writes).await {
            Ok(()) => {
                if let Some(mut one) = staged {
                    one.apply();
                }
            }
            Err(error) => {
                tracing::warn!(%error, "could not record a finished topic delivery; it runs again after a restart");
            }
        }
    }

    fn retry_policy(&self, delivery: &Delivery) -> RetryPolicy {
        let policy = self
            .subscription(&delivery.subscription_arn)
            .map(|subscription| self.subscription_delivery_policy(&subscription))
            .unwrap_or_default();
        RetryPolicy::of(&policy["healthyRetryPolicy"])
    }

    async fn sign_confirmation(&self, unsigned: &str, cert_url: &str) -> Result<String, String> {
        let signer = self.signer().await.map_err(|e| e.to_string())?;
        let mut body: Map<String, Value> =
            serde_json::from_str(unsigned).map_err(|e| e.to_string())?;
        let version = body
            .get("SignatureVersion")
            .and_then(Value::as_str)
            .unwrap_or("1")
            .to_owned();
        let signature = signer.sign(&version, &body);
        body.insert("Signature".into(), json!(signature));
        body.insert("SigningCertURL".into(), json!(cert_url));
        Ok(Value::Object(body).to_string())
    }
}

/// A 2xx answer is a delivery; anything else is retried.
fn success(status: u16) -> Result<(), String> {
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("the endpoint answered {status}"))
    }
}
