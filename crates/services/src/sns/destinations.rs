//! [`MessageDestinations`]: Lambda's queue and topic destinations — an invocation record sent
//! to an SQS queue or published to an SNS topic, committed before the functions mark the
//! event done.

use std::future::Future;
use std::pin::Pin;

use sluice_broker::topics::Publication;
use sluice_broker::{Broker, Send};
use sluice_functions::Destinations;
use sluice_store::Store;
use sluice_types::Arn;

/// Queues and topics as destinations of function invocations.
pub struct MessageDestinations<S> {
    broker: Broker<S>,
}

impl<S: Store> MessageDestinations<S> {
    pub fn new(broker: Broker<S>) -> Self {
        Self { broker }
    }

    pub(crate) async fn send(&self, arn: &str, record: String) -> Result<(), String> {
        // arn:aws:<sqs|sns>:<region>:<account>:<name>, checked when the destination was set.
        let parsed = Arn::parse(arn).map_err(|e| format!("{arn}: {e}"))?;
        if parsed.service == "sns" {
            let publication = Publication {
                message: record,
                ..Publication::default()
            };
            self.broker
                .publish(arn, "TopicArn", vec![publication], &self.broker.endpoint())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        } else {
            let message = Send {
                body: record,
                ..Send::default()
            };
            match self.broker.send(parsed.last_segment(), vec![message]).await {
                Ok(outcomes) => match outcomes.into_iter().next() {
                    Some(Err(error)) => Err(error.to_string()),
                    _ => Ok(()),
                },
                Err(error) => Err(error.to_string()),
            }
        }
    }
}

impl<S: Store> Destinations for MessageDestinations<S> {
    fn send<'a>(
        &'a self,
        arn: &'a str,
        record: String,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + std::marker::Send + 'a>> {
        Box::pin(MessageDestinations::send(self, arn, record))
    }
}
