//! The SQS queues as the services that poll them (event-source mappings, pipes) use them:
//! [`Source`], the broker and the store behind one object-safe trait, and [`gather`], one
//! batch received within a batching window.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sluice_broker::{Broker, MAX_RECEIVE, Receive, Received};
use sluice_store::{Store, Write};

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The queues and the store as pollers use them, whatever the store's type.
pub(crate) trait Source: Send + Sync + 'static {
    fn queue_arn(&self, name: &str) -> Option<String>;
    fn visible(&self, name: &str) -> usize;
    /// The queue's `VisibilityTimeout`, in milliseconds.
    fn visibility_ms(&self, name: &str) -> Option<i64>;
    fn clock(&self) -> &sluice_clock::Clock;
    fn receive(
        &self,
        name: String,
        options: Receive,
    ) -> BoxFuture<'_, Result<Vec<Received>, sluice_broker::Error>>;
    fn delete(
        &self,
        name: String,
        receipt: String,
    ) -> BoxFuture<'_, Result<(), sluice_broker::Error>>;
    /// Makes a received message visible again at once.
    fn release(
        &self,
        name: String,
        receipt: String,
    ) -> BoxFuture<'_, Result<(), sluice_broker::Error>>;
    fn commit(&self, writes: Vec<Write>) -> BoxFuture<'_, Result<(), sluice_store::Error>>;
    /// Sends `body` to a queue or topic by ARN (an on-failure destination).
    fn send_to(&self, arn: String, body: String) -> BoxFuture<'_, Result<(), String>>;
    /// Whether a queue or topic ARN names one that exists.
    fn destination_exists(&self, arn: &str) -> bool;
}

pub(crate) struct BrokerSource<S> {
    broker: Broker<S>,
    store: S,
}

impl<S: Store> Source for BrokerSource<S> {
    fn queue_arn(&self, name: &str) -> Option<String> {
        self.broker.queue(name).ok().map(|q| q.arn.clone())
    }

    fn visible(&self, name: &str) -> usize {
        self.broker.counts(name).map_or(0, |c| c.visible)
    }

    fn visibility_ms(&self, name: &str) -> Option<i64> {
        let attributes = self.broker.attributes(name).ok()?;
        let seconds: i64 = attributes.get("VisibilityTimeout")?.parse().ok()?;
        Some(seconds * 1000)
    }

    fn clock(&self) -> &sluice_clock::Clock {
        self.broker.clock()
    }

    fn receive(
        &self,
        name: String,
        options: Receive,
    ) -> BoxFuture<'_, Result<Vec<Received>, sluice_broker::Error>> {
        Box::pin(async move { self.broker.receive(&name, options).await })
    }

    fn delete(
        &self,
        name: String,
        receipt: String,
    ) -> BoxFuture<'_, Result<(), sluice_broker::Error>> {
        Box::pin(async move { self.broker.delete(&name, &receipt).await })
    }

    fn release(
        &self,
        name: String,
        receipt: String,
    ) -> BoxFuture<'_, Result<(), sluice_broker::Error>> {
        Box::pin(async move { self.broker.change_visibility(&name, &receipt, 0).await })
    }

    fn commit(&self, writes: Vec<Write>) -> BoxFuture<'_, Result<(), sluice_store::Error>> {
        Box::pin(self.store.commit(writes))
    }

    fn send_to(&self, arn: String, body: String) -> BoxFuture<'_, Result<(), String>> {
        let destinations = crate::sns::destinations::MessageDestinations::new(self.broker.clone());
        Box::pin(async move { destinations.send(&arn, body).await })
    }

    fn destination_exists(&self, arn: &str) -> bool {
        match sluice_types::Arn::parse(arn) {
            Ok(parsed) if parsed.service == "sqs" => self
                .broker
                .queue(parsed.last_segment())
                .is_ok_and(|q| q.arn == arn),
            Ok(parsed) if parsed.service == "sns" => self.broker.topic("TopicArn", arn).is_ok(),
            _ => false,
        }
    }
}

impl<S> BrokerSource<S> {
    pub(crate) fn new(broker: Broker<S>, store: S) -> Self {
        Self { broker, store }
    }
}

/// Receives up to `size` messages of `queue` (a batch, or several small ones), waiting `wait`
/// seconds for the first and, with a batching window of `window_seconds`, gathering more
/// until the window has passed since it arrived.
pub(crate) async fn gather(
    source: &dyn Source,
    queue: &str,
    size: usize,
    window_seconds: u32,
    wait: i64,
) -> Result<Vec<Received>, sluice_broker::Error> {
    let receive = |max: usize, wait: i64| Receive {
        max_messages: max.clamp(1, MAX_RECEIVE),
        visibility_timeout: None,
        wait_seconds: Some(wait),
    };
    let mut batch = source
        .receive(queue.to_owned(), receive(size, wait))
        .await?;
    if batch.is_empty() || window_seconds == 0 || batch.len() >= size {
        return Ok(batch);
    }
    let clock = source.clock();
    let deadline = clock.now_ms() + i64::from(window_seconds) * 1000;
    while batch.len() < size {
        let remaining = deadline - clock.now_ms();
        if remaining <= 0 {
            break;
        }
        // Whole seconds (receives are not cancelled: a dropped receive could hide messages
        // until their visibility timeout); the last fraction is slept.
        let more = source
            .receive(
                queue.to_owned(),
                receive(size - batch.len(), remaining / 1000),
            )
            .await?;
        if more.is_empty() && remaining < 1000 {
            clock.sleep_until(deadline).await;
        }
        batch.extend(more);
    }
    Ok(batch)
}

/// Deletes the messages of `queue` that `receipts` name, concurrently (their commits share
/// the store's group commits); how many were deleted. A delete that fails leaves its message
/// to come back after its visibility timeout, which at-least-once delivery allows.
pub(crate) async fn delete_all(
    source: &Arc<dyn Source>,
    queue: &str,
    receipts: Vec<String>,
) -> usize {
    let mut deletes = tokio::task::JoinSet::new();
    for receipt in receipts {
        let (source, queue) = (Arc::clone(source), queue.to_owned());
        deletes.spawn(async move { source.delete(queue, receipt).await });
    }
    let mut deleted = 0;
    while let Some(done) = deletes.join_next().await {
        match done {
            Ok(Ok(())) => deleted += 1,
            Ok(Err(error)) => tracing::warn!(%error, queue, "cannot delete a delivered message"),
            Err(error) => tracing::warn!(%error, queue, "a delete task failed"),
        }
    }
    deleted
}
