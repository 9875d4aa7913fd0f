//! Deliveries: what a fire owes its target, kept in the store until the target took it.
//!
//! Templated targets go through the shared [`crate::targets`] dispatcher (Lambda: an
//! asynchronous invocation, journaled by the functions; Step Functions: StartExecution; SQS:
//! SendMessage with `SqsParameters.MessageGroupId`; SNS: Publish; EventBridge: PutEvents with
//! `EventBridgeParameters`; Kinesis: PutRecord with `KinesisParameters.PartitionKey`), universal
//! targets (`arn:aws:scheduler:::aws-sdk:<service>:<action>`) call `<action>` with the Input as
//! the request, through the same [`AwsSdk`] registry as Task states' `aws-sdk:` resources. A
//! failed attempt is retried on the server's clock with exponential backoff until the target's
//! RetryPolicy gives up (attempts or event age), then the event goes to the dead-letter queue
//! with AWS's attributes.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_api::ApiError;
use sluice_api::scheduler::model::Target;
use sluice_store::{ResourceRecord, Store, Write};
use sluice_types::Arn;

use super::{Counters, DELIVERY_KIND, Inner, ScheduleRecord, internal, validation};
use crate::integrations::aws_sdk::SdkError;
use crate::targets;

/// The first retry's delay; each retry doubles it up to [`MAX_BACKOFF_MS`].
const FIRST_BACKOFF_MS: i64 = 1_000;
const MAX_BACKOFF_MS: i64 = 5 * 60_000;

/// One fire's delivery, as stored until the target took it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Delivery {
    /// `<aws.scheduler.execution-id>`: unique per fire, kept across retries.
    id: String,
    schedule_arn: String,
    schedule_key: String,
    target: Target,
    /// The fire's nominal time (`<aws.scheduler.scheduled-time>`), epoch ms.
    scheduled_ms: i64,
    /// When it fired: the event's age counts from here.
    fired_ms: i64,
    /// Attempts made so far.
    attempts: u32,
    next_attempt_ms: i64,
}

impl Delivery {
    pub(super) fn new(record: &ScheduleRecord, scheduled_ms: i64, now_ms: i64) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            schedule_arn: record.arn.clone(),
            schedule_key: record.key(),
            target: record.target.clone(),
            scheduled_ms,
            fired_ms: now_ms,
            attempts: 0,
            next_attempt_ms: now_ms,
        }
    }

    pub(super) fn resource(&self) -> Result<ResourceRecord, ApiError> {
        Ok(ResourceRecord {
            kind: DELIVERY_KIND.to_owned(),
            key: self.id.clone(),
            body: serde_json::to_vec(self).map_err(internal)?,
        })
    }

    /// The target's Input with the context attributes filled in for the next attempt.
    fn input(&self) -> String {
        let scheduled = jiff::Timestamp::from_millisecond(self.scheduled_ms)
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        self.target
            .input
            .as_deref()
            .unwrap_or("{}")
            .replace("<aws.scheduler.schedule-arn>", &self.schedule_arn)
            .replace("<aws.scheduler.scheduled-time>", &scheduled)
            .replace("<aws.scheduler.execution-id>", &self.id)
            .replace(
                "<aws.scheduler.attempt-number>",
                &(self.attempts + 1).to_string(),
            )
    }
}

/// Why an attempt failed: the code and message the dead-letter event carries.
#[derive(Debug, Clone, PartialEq)]
struct Failed {
    code: String,
    message: String,
}

impl Failed {
    fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

impl From<SdkError> for Failed {
    fn from(error: SdkError) -> Self {
        match error {
            SdkError::Unavailable(message) => {
                Failed::new("AWS.Scheduler.InternalServerError", message)
            }
            SdkError::Service { error, .. } => {
                let code = error
                    .kind
                    .rsplit('#')
                    .next()
                    .unwrap_or(&error.kind)
                    .to_owned();
                Failed::new(code, error.message)
            }
        }
    }
}

/// What a target's ARN calls.
#[derive(Debug, Clone, PartialEq)]
enum Call {
    /// A templated target of this service (`lambda`, `sfn`, `sqs`, `sns`, `events`,
    /// `kinesis`), delivered by the shared [`crate::targets`] dispatcher.
    Templated(&'static str),
    /// A universal target: an API action of a service in the SDK registry, with its
    /// PascalCase input.
    Universal {
        service: String,
        action: String,
        region: String,
    },
}

/// The templated service an ARN names, or the universal target's service and action.
fn call_of(arn: &str, home_region: &str) -> Result<Call, String> {
    let parsed = Arn::parse(arn).map_err(|e| format!("invalid target ARN {arn}: {e}"))?;
    Ok(match parsed.service {
        "lambda" => {
            parsed
                .function()
                .ok_or_else(|| format!("{arn} is not a Lambda function ARN"))?;
            Call::Templated("lambda")
        }
        "states" => Call::Templated("sfn"),
        "sqs" => Call::Templated("sqs"),
        "sns" => Call::Templated("sns"),
        "events" => Call::Templated("events"),
        "kinesis" => Call::Templated("kinesis"),
        "scheduler" => {
            let (service, action) = parsed
                .resource
                .strip_prefix("aws-sdk:")
                .and_then(|rest| rest.split_once(':'))
                .filter(|(s, a)| !s.is_empty() && !a.is_empty() && !a.contains(':'))
                .ok_or_else(|| {
                    format!("{arn} is not a universal target (aws-sdk:<service>:<action>)")
                })?;
            Call::Universal {
                service: service.to_owned(),
                action: action.to_owned(),
                region: home_region.to_owned(),
            }
        }
        other => {
            return Err(format!(
                "Sluice's schedules do not deliver to {other} targets"
            ));
        }
    })
}

/// What CreateSchedule and UpdateSchedule check of a target beyond the model's constraints.
pub(super) fn check_target(target: &Target) -> Result<(), ApiError> {
    let call = call_of(&target.arn, "").map_err(|e| validation(format!("Invalid target: {e}.")))?;
    let json_input = matches!(
        call,
        Call::Universal { .. } | Call::Templated("sfn" | "events")
    );
    if json_input
        && let Some(input) = &target.input
        && serde_json::from_str::<Value>(input).is_err()
    {
        return Err(validation(
            "Input must be a well-formed JSON for this target.",
        ));
    }
    if call == Call::Templated("kinesis") && target.kinesis_parameters.is_none() {
        return Err(validation(
            "KinesisParameters are required for a Kinesis target.",
        ));
    }
    Ok(())
}

/// The shared dispatcher's delivery of a templated target's `input`.
fn templated(delivery: &Delivery, input: String) -> targets::Delivery {
    let target = &delivery.target;
    targets::Delivery {
        arn: target.arn.clone(),
        payload: input,
        message_group_id: target
            .sqs_parameters
            .as_ref()
            .and_then(|p| p.message_group_id.clone()),
        partition_key: target
            .kinesis_parameters
            .as_ref()
            .map(|p| p.partition_key.clone()),
        event_fields: target.arn.contains(":events:").then(|| {
            let parameters = target.event_bridge_parameters.clone().unwrap_or_default();
            targets::EventFields {
                source: parameters.source,
                detail_type: parameters.detail_type,
                resources: vec![delivery.schedule_arn.clone()],
            }
        }),
        // Retries of one fire are one message, one invocation.
        idempotency_key: delivery.id.clone(),
        ..targets::Delivery::default()
    }
}

/// One attempt at the target.
async fn attempt<S: Store>(inner: &Inner<S>, delivery: &Delivery) -> Result<(), Failed> {
    let input = delivery.input();
    let call = call_of(&delivery.target.arn, &inner.scope.region)
        .map_err(|e| Failed::new("ValidationException", e))?;
    let Call::Universal {
        service,
        action,
        region,
    } = call
    else {
        return inner
            .targets
            .deliver(&templated(delivery, input))
            .await
            .map_err(|e| Failed::new(e.code, e.message));
    };
    let request: Value = serde_json::from_str(&input)
        .map_err(|e| Failed::new("ValidationException", format!("Input is not JSON: {e}")))?;
    let answer = inner.sdk.call(&service, &action, &request, region).await?;
    // PutEvents answers 200 with the entries it refused.
    if answer["FailedEntryCount"].as_i64().unwrap_or(0) > 0 {
        let entry = &answer["Entries"][0];
        return Err(Failed::new(
            entry["ErrorCode"].as_str().unwrap_or("PutEventsFailed"),
            entry["ErrorMessage"].as_str().unwrap_or_default(),
        ));
    }
    Ok(())
}

/// Loads the deliveries a previous process left and starts them; returns how many.
pub(super) async fn resume<S: Store>(inner: &Arc<Inner<S>>) -> usize {
    let records = match inner.store.resources(DELIVERY_KIND).await {
        Ok(records) => records,
        Err(error) => {
            tracing::warn!(%error, "cannot read the schedules' pending deliveries");
            return 0;
        }
    };
    let mut started = 0;
    for record in records {
        match serde_json::from_slice::<Delivery>(&record.body) {
            Ok(delivery) => {
                let counters = inner
                    .schedules()
                    .get(&delivery.schedule_key)
                    .map(|live| Arc::clone(&live.counters))
                    .unwrap_or_default();
                spawn(inner, delivery, counters);
                started += 1;
            }
            Err(error) => {
                tracing::warn!(key = %record.key, %error, "unreadable delivery skipped");
            }
        }
    }
    started
}

/// Delivers in the background until the target took it or the retry policy gave up.
pub(super) fn spawn<S: Store>(inner: &Arc<Inner<S>>, delivery: Delivery, counters: Arc<Counters>) {
    inner.pending.fetch_add(1, Ordering::Relaxed);
    let tasks = inner.tasks.clone();
    tasks.spawn(
        "scheduler-delivery",
        run(Arc::clone(inner), delivery, counters),
    );
}

async fn run<S: Store>(inner: Arc<Inner<S>>, mut delivery: Delivery, counters: Arc<Counters>) {
    let stopping = inner.tasks.cancelled();
    tokio::pin!(stopping);
    let retry = delivery.target.retry_policy.clone().unwrap_or_default();
    let max_retries = retry
        .maximum_retry_attempts
        .unwrap_or(super::DEFAULT_MAX_RETRIES)
        .max(0) as u32;
    let max_age_ms = i64::from(
        retry
            .maximum_event_age_in_seconds
            .unwrap_or(super::DEFAULT_MAX_AGE_SECONDS),
    ) * 1000;
    loop {
        tokio::select! {
            () = inner.clock.sleep_until(delivery.next_attempt_ms) => {}
            // Left in the store: the next process delivers it.
            () = &mut stopping => break,
        }
        let outcome = attempt(&inner, &delivery).await;
        delivery.attempts += 1;
        let now = inner.clock.now_ms();
        let done = match outcome {
            Ok(()) => {
                counters.delivered.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(failed) => {
                counters.failed_attempts.fetch_add(1, Ordering::Relaxed);
                let exhausted = if delivery.attempts > max_retries {
                    Some("MaximumRetryAttempts")
                } else if now - delivery.fired_ms >= max_age_ms {
                    Some("MaximumEventAgeInSeconds")
                } else {
                    None
                };
                match exhausted {
                    Some(condition) => {
                        tracing::warn!(schedule = %delivery.schedule_arn, code = %failed.code, message = %failed.message, "delivery given up");
                        dead_letter(&inner, &delivery, &failed, condition, &counters).await;
                        true
                    }
                    None => {
                        let shift = (delivery.attempts - 1).min(20);
                        let delay = (FIRST_BACKOFF_MS << shift).min(MAX_BACKOFF_MS);
                        delivery.next_attempt_ms = now + delay;
                        tracing::debug!(schedule = %delivery.schedule_arn, code = %failed.code, delay, "delivery failed; retrying");
                        if let Ok(resource) = delivery.resource()
                            && let Err(error) =
                                inner.store.commit(vec![Write::PutResource(resource)]).await
                        {
                            tracing::warn!(%error, "cannot record a delivery's retry");
                        }
                        false
                    }
                }
            }
        };
        if done {
            let removed = Write::DeleteResource {
                kind: DELIVERY_KIND.to_owned(),
                key: delivery.id.clone(),
            };
            if let Err(error) = inner.store.commit(vec![removed]).await {
                // Delivered again after a restart: at least once.
                tracing::warn!(%error, "cannot record a delivery as done");
            }
            break;
        }
    }
    inner.pending.fetch_sub(1, Ordering::Relaxed);
}

/// The dead-letter event: the target's input, with AWS's attributes saying why.
async fn dead_letter<S: Store>(
    inner: &Inner<S>,
    delivery: &Delivery,
    failed: &Failed,
    condition: &str,
    counters: &Counters,
) {
    let Some(queue) = delivery
        .target
        .dead_letter_config
        .as_ref()
        .and_then(|d| d.arn.as_ref())
    else {
        return;
    };
    let attributes = [
        ("ERROR_CODE", failed.code.clone()),
        ("ERROR_MESSAGE", failed.message.chars().take(1000).collect()),
        ("EXHAUSTED_RETRY_CONDITION", condition.to_owned()),
        (
            "RETRY_ATTEMPTS",
            delivery.attempts.saturating_sub(1).to_string(),
        ),
        ("SCHEDULE_ARN", delivery.schedule_arn.clone()),
        ("TARGET_ARN", delivery.target.arn.clone()),
        ("INVOCATION_ID", delivery.id.clone()),
    ];
    let letter = targets::Delivery {
        arn: queue.clone(),
        payload: delivery.input(),
        idempotency_key: delivery.id.clone(),
        attributes: attributes
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect(),
        ..targets::Delivery::default()
    };
    match inner.targets.deliver(&letter).await {
        Ok(_) => {
            counters.dead_lettered.fetch_add(1, Ordering::Relaxed);
        }
        Err(error) => {
            tracing::warn!(schedule = %delivery.schedule_arn, %error, "cannot send to the dead-letter queue");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_arns_name_what_they_call() {
        assert_eq!(
            call_of(
                "arn:aws:lambda:eu-west-1:000000000000:function:f:live",
                "us-east-1"
            ),
            Ok(Call::Templated("lambda"))
        );
        assert_eq!(
            call_of(
                "arn:aws:states:us-east-1:000000000000:stateMachine:m",
                "us-east-1"
            ),
            Ok(Call::Templated("sfn"))
        );
        assert_eq!(
            call_of("arn:aws:scheduler:::aws-sdk:sqs:sendMessage", "us-east-1"),
            Ok(Call::Universal {
                service: "sqs".into(),
                action: "sendMessage".into(),
                region: "us-east-1".into()
            })
        );
        assert!(call_of("arn:aws:lambda:us-east-1:000000000000:layer:l", "us-east-1").is_err());
        assert!(call_of("arn:aws:scheduler:::aws-sdk:sqs", "us-east-1").is_err());
        assert!(call_of("arn:aws:ecs:us-east-1:000000000000:cluster/c", "us-east-1").is_err());
        assert!(call_of("not an arn", "us-east-1").is_err());
    }
}
