//! One accepted delivery of an event to a rule's target, run until it is done: delivered,
//! or given up on after the target's `RetryPolicy` (and sent to its dead-letter queue with
//! AWS's message attributes). Its record is deleted only then, so a delivery interrupted by a
//! crash runs again after the restart (at-least-once).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_api::events::model::Target;
use sluice_asl::Scope;
use sluice_asl::path::Path;
use sluice_clock::Clock;
use sluice_runtime::Tasks;
use sluice_store::{Store, Write};

use super::DELIVERY_KIND;
use crate::targets::{Delivery, TargetError, Targets};

/// AWS's default `MaximumRetryAttempts`.
const DEFAULT_RETRIES: u32 = 185;
/// AWS's default `MaximumEventAgeInSeconds` (24 hours).
const DEFAULT_MAX_AGE_S: i64 = 86_400;
/// The first retry's delay; each next one doubles, up to [`MAX_BACKOFF_MS`].
const FIRST_BACKOFF_MS: i64 = 1_000;
/// The longest wait between two attempts: 185 retries spread over about a day.
const MAX_BACKOFF_MS: i64 = 300_000;

/// A delivery as recorded: everything needed to deliver, retry and give up.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Pending {
    rule_arn: String,
    target_id: String,
    target_arn: String,
    message_group_id: Option<String>,
    partition_key: Option<String>,
    max_retries: u32,
    max_age_s: i64,
    dead_letter_arn: Option<String>,
    event_id: String,
    payload: String,
    accepted_ms: i64,
}

impl Pending {
    pub(super) fn new(
        target: &Target,
        rule_arn: &str,
        event_id: &str,
        event: &Value,
        payload: String,
        now: i64,
    ) -> Self {
        let retry = target.retry_policy.as_ref();
        let partition_key = target.kinesis_parameters.as_ref().map(|kinesis| {
            Path::parse(&kinesis.partition_key_path)
                .ok()
                .and_then(|path| {
                    path.select(&Scope::new(event, &Value::Null))
                        .map(|v| match v.as_ref() {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                })
                .unwrap_or_else(|| event_id.to_owned())
        });
        Self {
            rule_arn: rule_arn.to_owned(),
            target_id: target.id.clone(),
            target_arn: target.arn.clone(),
            message_group_id: target
                .sqs_parameters
                .as_ref()
                .and_then(|p| p.message_group_id.clone()),
            partition_key,
            max_retries: retry
                .and_then(|r| r.maximum_retry_attempts)
                .map_or(DEFAULT_RETRIES, |n| n.max(0) as u32),
            max_age_s: retry
                .and_then(|r| r.maximum_event_age_in_seconds)
                .map_or(DEFAULT_MAX_AGE_S, i64::from),
            dead_letter_arn: target
                .dead_letter_config
                .as_ref()
                .and_then(|d| d.arn.clone()),
            event_id: event_id.to_owned(),
            payload,
            accepted_ms: now,
        }
    }

    fn delivery(&self) -> Delivery {
        Delivery {
            arn: self.target_arn.clone(),
            payload: self.payload.clone(),
            message_group_id: self.message_group_id.clone(),
            partition_key: self.partition_key.clone(),
            idempotency_key: self.event_id.clone(),
            ..Delivery::default()
        }
    }
}

/// The delay before retry number `retry` (1-based): doubling from a second, capped, with
/// jitter (between half and all of it) so retries of many events spread out.
fn backoff_ms(retry: u32) -> i64 {
    let full = FIRST_BACKOFF_MS
        .saturating_mul(1_i64 << retry.saturating_sub(1).min(20))
        .min(MAX_BACKOFF_MS);
    full / 2 + fastrand::i64(0..=full / 2)
}

/// Why a delivery was given up on: AWS's `EXHAUSTED_RETRY_CONDITION`.
fn exhausted(pending: &Pending, retries: u32, now: i64) -> Option<&'static str> {
    if retries >= pending.max_retries {
        Some("MaximumRetryAttempts")
    } else if now - pending.accepted_ms >= pending.max_age_s * 1000 {
        Some("MaximumEventAgeInSeconds")
    } else {
        None
    }
}

pub(super) async fn run<S: Store>(
    store: S,
    clock: Clock,
    targets: Targets,
    tasks: Tasks,
    key: String,
    pending: Pending,
) {
    let delivery = pending.delivery();
    let mut retries = 0;
    let stopping = tasks.cancelled();
    tokio::pin!(stopping);
    loop {
        let error = match targets.deliver(&delivery).await {
            Ok(()) => break,
            Err(error) => error,
        };
        let now = clock.now_ms();
        if let Some(condition) = exhausted(&pending, retries, now) {
            tracing::info!(
                rule = %pending.rule_arn, target = %pending.target_id, %error, condition,
                "event not delivered"
            );
            dead_letter(&targets, &pending, &error, condition, retries).await;
            break;
        }
        retries += 1;
        let due = now + backoff_ms(retries);
        tokio::select! {
            () = clock.sleep_until(due) => {}
            // Shutting down: the record stays and the delivery resumes after the restart.
            () = &mut stopping => return,
        }
    }
    let deleted = store
        .commit(vec![Write::DeleteResource {
            kind: DELIVERY_KIND.into(),
            key,
        }])
        .await;
    if let Err(error) = deleted {
        // The delivery runs again after a restart: at-least-once.
        tracing::warn!(%error, "cannot forget a finished delivery");
    }
}

/// Sends the undelivered payload to the target's dead-letter queue, if it has one, with the
/// attributes AWS puts on such messages.
async fn dead_letter(
    targets: &Targets,
    pending: &Pending,
    error: &TargetError,
    condition: &str,
    retries: u32,
) {
    let Some(queue) = &pending.dead_letter_arn else {
        return;
    };
    let attributes = vec![
        ("RULE_ARN".to_owned(), pending.rule_arn.clone()),
        ("TARGET_ARN".to_owned(), pending.target_arn.clone()),
        ("ERROR_CODE".to_owned(), error.code.clone()),
        ("ERROR_MESSAGE".to_owned(), error.message.clone()),
        ("EXHAUSTED_RETRY_CONDITION".to_owned(), condition.to_owned()),
        ("RETRY_ATTEMPTS".to_owned(), retries.to_string()),
    ];
    let message = Delivery {
        arn: queue.clone(),
        payload: pending.payload.clone(),
        idempotency_key: pending.event_id.clone(),
        message_group_id: Some(pending.rule_arn.clone()),
        attributes,
        ..Delivery::default()
    };
    if let Err(error) = targets.deliver(&message).await {
        tracing::warn!(queue = %queue, %error, "cannot send to the dead-letter queue");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for retry in 1..=200 {
            let full = (FIRST_BACKOFF_MS << (retry - 1).min(20)).min(MAX_BACKOFF_MS);
            let delay = backoff_ms(retry);
            assert!(delay >= full / 2 && delay <= full, "{retry}: {delay}");
        }
    }

    #[test]
    fn retry_policies_default_to_aws_values() {
        let target = Target {
            id: "t".into(),
            arn: "arn:aws:sqs:us-east-1:000000000000:q".into(),
            ..Target::default()
        };
        let pending = Pending::new(&target, "r", "e", &Value::Null, "{}".into(), 0);
        assert_eq!(pending.max_retries, 185);
        assert_eq!(pending.max_age_s, 86_400);
        assert_eq!(exhausted(&pending, 185, 0), Some("MaximumRetryAttempts"));
        assert_eq!(
            exhausted(&pending, 3, 86_400_000),
            Some("MaximumEventAgeInSeconds")
        );
        assert_eq!(exhausted(&pending, 3, 1_000), None);
    }
}
