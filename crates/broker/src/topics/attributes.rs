//! AWS's rules for topic and subscription attributes, with its messages.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sluice_patterns::{Dialect, Pattern, PatternError};
use sluice_types::Arn;

use super::{TopicError, invalid};

/// Attributes a topic may be given, besides the delivery-status feedback ones.
const TOPIC_ATTRIBUTES: &[&str] = &[
    "DeliveryPolicy",
    "DisplayName",
    "Policy",
    "KmsMasterKeyId",
    "TracingConfig",
    "SignatureVersion",
    "DataProtectionPolicy",
];
/// Attributes only FIFO topics take.
const FIFO_TOPIC_ATTRIBUTES: &[&str] = &[
    "ContentBasedDeduplication",
    "ArchivePolicy",
    "FifoThroughputScope",
];
/// Protocols with delivery-status logging, and what each logs.
const FEEDBACK_PROTOCOLS: &[&str] = &["HTTP", "Firehose", "Lambda", "Application", "SQS"];
const FEEDBACK_ATTRIBUTES: &[&str] = &[
    "SuccessFeedbackRoleArn",
    "SuccessFeedbackSampleRate",
    "FailureFeedbackRoleArn",
];

const SUBSCRIPTION_ATTRIBUTES: &[&str] = &[
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "SubscriptionRoleArn",
    "ReplayPolicy",
];

fn feedback(name: &str) -> bool {
    FEEDBACK_PROTOCOLS.iter().any(|p| {
        name.strip_prefix(p)
            .is_some_and(|rest| FEEDBACK_ATTRIBUTES.contains(&rest))
    })
}

fn json_object(name: &str, value: &str) -> Result<(), TopicError> {
    match serde_json::from_str::<Value>(value) {
        Ok(Value::Object(_)) => Ok(()),
        Ok(_) => Err(invalid(format_args!(
            "Attributes Reason: {name}: must be a JSON object"
        ))),
        Err(e) => Err(invalid(format_args!(
            "Attributes Reason: {name}: failed to parse JSON. {e}"
        ))),
    }
}

/// Checks `given` (CreateTopic's attributes, or one SetTopicAttributes) and returns
/// `current` with them applied.
pub(super) fn apply_topic(
    current: &BTreeMap<String, String>,
    given: &BTreeMap<String, String>,
    fifo: bool,
    creating: bool,
) -> Result<BTreeMap<String, String>, TopicError> {
    let mut out = current.clone();
    for (name, value) in given {
        match name.as_str() {
            "FifoTopic" if creating => {
                // AWS keeps no explicit `false`.
                if fifo {
                    out.insert(name.clone(), "true".into());
                } else if !value.eq_ignore_ascii_case("false") {
                    return Err(invalid(
                        "Attributes Reason: FifoTopic: must be true or false",
                    ));
                }
            }
            "DisplayName" => {
                if value.chars().count() > 100 {
                    return Err(invalid("DisplayName"));
                }
                out.insert(name.clone(), value.clone());
            }
            "Policy" | "DeliveryPolicy" | "DataProtectionPolicy" => {
                if value.is_empty() {
                    out.remove(name);
                } else {
                    json_object(name, value)?;
                    let kept = if name == "DeliveryPolicy" {
                        normalized_topic_policy(value)
                    } else {
                        value.clone()
                    };
                    out.insert(name.clone(), kept);
                }
            }
            "TracingConfig" => {
                if !matches!(value.as_str(), "PassThrough" | "Active") {
                    return Err(invalid(format_args!(
                        "Attributes Reason: TracingConfig: Invalid value [{value}]. Must be PassThrough or Active."
                    )));
                }
                out.insert(name.clone(), value.clone());
            }
            "SignatureVersion" => {
                if !matches!(value.as_str(), "1" | "2") {
                    return Err(invalid(format_args!(
                        "Attributes Reason: SignatureVersion: Invalid value [{value}]. Must be 1 or 2."
                    )));
                }
                out.insert(name.clone(), value.clone());
            }
            n if FIFO_TOPIC_ATTRIBUTES.contains(&n) => {
                if !fifo {
                    return Err(invalid(format_args!(
                        "Attributes Reason: {n}: only supported for FIFO topics"
                    )));
                }
                let ok = match n {
                    "ContentBasedDeduplication" => {
                        matches!(value.as_str(), "true" | "false")
                    }
                    "FifoThroughputScope" => matches!(value.as_str(), "Topic" | "MessageGroup"),
                    _ => value.is_empty() || serde_json::from_str::<Value>(value).is_ok(),
                };
                if !ok {
                    return Err(invalid(format_args!(
                        "Attributes Reason: {n}: Invalid value [{value}]"
                    )));
                }
                out.insert(name.clone(), value.clone());
            }
            n if TOPIC_ATTRIBUTES.contains(&n) || feedback(n) => {
                if n.ends_with("SampleRate") && !value.parse::<u8>().is_ok_and(|rate| rate <= 100) {
                    return Err(invalid(format_args!(
                        "Attributes Reason: {n}: must be an integer from 0 to 100"
                    )));
                }
                out.insert(name.clone(), value.clone());
            }
            _ => return Err(invalid("AttributeName")),
        }
    }
    Ok(out)
}

/// Checks `given` (Subscribe's attributes, or one SetSubscriptionAttributes) against the
/// subscription's protocol and returns `current` with them applied; the error is the reason
/// (the caller words where it came from).
pub(super) fn apply_subscription(
    current: &BTreeMap<String, String>,
    given: &BTreeMap<String, String>,
    protocol: &str,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = current.clone();
    for (name, value) in given {
        if !SUBSCRIPTION_ATTRIBUTES.contains(&name.as_str()) {
            return Err("AttributeName".into());
        }
        match name.as_str() {
            "RawMessageDelivery" => {
                let lower = value.to_ascii_lowercase();
                if lower != "true" && lower != "false" {
                    return Err(format!(
                        "RawMessageDelivery: Invalid value [{value}]. Must be true or false."
                    ));
                }
                if !matches!(protocol, "sqs" | "http" | "https" | "firehose") && lower == "true" {
                    return Err("Delivery protocol [".to_owned()
                        + protocol
                        + "] does not support raw message delivery.");
                }
                out.insert(name.clone(), lower);
            }
            "FilterPolicyScope" => {
                if !matches!(value.as_str(), "MessageAttributes" | "MessageBody") {
                    return Err(format!(
                        "FilterPolicyScope: Invalid value [{value}]. Please use either MessageBody or MessageAttributes"
                    ));
                }
                out.insert(name.clone(), value.clone());
            }
            "FilterPolicy" | "RedrivePolicy" | "DeliveryPolicy" | "ReplayPolicy" => {
                if value.is_empty() {
                    out.remove(name);
                    continue;
                }
                match serde_json::from_str::<Value>(value) {
                    Ok(Value::Object(_)) => {}
                    Ok(_) if name == "FilterPolicy" => {}
                    Ok(_) => return Err(format!("{name}: must be a JSON object")),
                    Err(e) => return Err(format!("{name}: failed to parse JSON. {e}")),
                }
                let kept = if name == "DeliveryPolicy" {
                    normalized_subscription_policy(value)
                } else {
                    value.clone()
                };
                out.insert(name.clone(), kept);
                if name == "RedrivePolicy" {
                    dead_letter_target(&out)?;
                }
            }
            _ => {
                out.insert(name.clone(), value.clone());
            }
        }
    }
    Ok(out)
}

/// The subscription's filter, parsed in its scope.
pub(super) fn filter_of(
    attributes: &BTreeMap<String, String>,
) -> Result<Option<Pattern>, PatternError> {
    let Some(policy) = attributes.get("FilterPolicy") else {
        return Ok(None);
    };
    let dialect = match attributes.get("FilterPolicyScope").map(String::as_str) {
        Some("MessageBody") => Dialect::SnsBody,
        _ => Dialect::SnsAttributes,
    };
    Pattern::parse(policy, dialect).map(Some)
}

/// The `deadLetterTargetArn` of a `RedrivePolicy`, checked to be an SQS queue's ARN.
pub(super) fn dead_letter_target(
    attributes: &BTreeMap<String, String>,
) -> Result<Option<String>, String> {
    let Some(policy) = attributes.get("RedrivePolicy") else {
        return Ok(None);
    };
    let value: Value = serde_json::from_str(policy)
        .map_err(|e| format!("RedrivePolicy: failed to parse JSON. {e}"))?;
    let target = value
        .get("deadLetterTargetArn")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !Arn::parse(target).is_ok_and(|arn| arn.service == "sqs" && !arn.resource.contains(':')) {
        return Err("RedrivePolicy: deadLetterTargetArn is an invalid arn".into());
    }
    Ok(Some(target.to_owned()))
}

/// Tag keys must be present, distinct and within AWS's lengths.
pub(super) fn check_tags(tags: &[(String, String)], existing: usize) -> Result<(), TopicError> {
    let mut seen = std::collections::BTreeSet::new();
    for (key, value) in tags {
        if !seen.insert(key) {
            return Err(invalid("Duplicated keys are not allowed."));
        }
        if key.is_empty() || key.chars().count() > 128 {
            return Err(invalid(
                "Tags Reason: Tag keys must be between 1 and 128 characters",
            ));
        }
        if value.chars().count() > 256 {
            return Err(invalid(
                "Tags Reason: Tag values must be at most 256 characters",
            ));
        }
    }
    if existing + tags.len() > super::MAX_TOPIC_TAGS {
        return Err(TopicError::InvalidParameter(
            "Could not complete request: tag quota of per resource exceeded".into(),
        ));
    }
    Ok(())
}

/// The topic policy SNS gives a topic nobody set one on.
pub(super) fn default_policy(topic_arn: &str, account: &str) -> String {
    json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": [
                "SNS:GetTopicAttributes",
                "SNS:SetTopicAttributes",
                "SNS:AddPermission",
                "SNS:RemovePermission",
                "SNS:DeleteTopic",
                "SNS:Subscribe",
                "SNS:ListSubscriptionsByTopic",
                "SNS:Publish"
            ],
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": account}}
        }]
    })
    .to_string()
}

/// AWS's default HTTP retry policy.
fn default_healthy_retry_policy() -> Value {
    json!({
        "minDelayTarget": 20,
        "maxDelayTarget": 20,
        "numRetries": 3,
        "numMaxDelayRetries": 0,
        "numNoDelayRetries": 0,
        "numMinDelayRetries": 0,
        "backoffFunction": "linear"
    })
}

/// `over` merged onto `base`, one level deep (objects merge, anything else replaces).
fn merge(base: &mut Value, over: &Value) {
    if let (Value::Object(into), Value::Object(from)) = (base, over) {
        for (key, value) in from {
            match (into.get_mut(key), value) {
                (Some(Value::Object(inner)), Value::Object(from)) => {
                    inner.extend(from.clone());
                }
                (_, value) => {
                    into.insert(key.clone(), value.clone());
                }
            }
        }
    }
}

/// A topic's `DeliveryPolicy` as AWS keeps it: `disableSubscriptionOverrides` made explicit.
pub(super) fn normalized_topic_policy(given: &str) -> String {
    let mut value: Value = serde_json::from_str(given).unwrap_or_default();
    if let Some(Value::Object(http)) = value.get_mut("http") {
        http.entry("disableSubscriptionOverrides")
            .or_insert(Value::Bool(false));
    }
    value.to_string()
}

/// A subscription's `DeliveryPolicy` as AWS keeps it: every member present (`null` when not
/// given), a given retry policy completed with AWS's defaults.
pub(super) fn normalized_subscription_policy(given: &str) -> String {
    let given: Value = serde_json::from_str(given).unwrap_or_default();
    let member = |key: &str| given.get(key).cloned().unwrap_or(Value::Null);
    let healthy = match given.get("healthyRetryPolicy") {
        Some(policy @ Value::Object(_)) => {
            let mut full = default_healthy_retry_policy();
            merge(&mut full, policy);
            full
        }
        _ => Value::Null,
    };
    json!({
        "healthyRetryPolicy": healthy,
        "sicklyRetryPolicy": member("sicklyRetryPolicy"),
        "throttlePolicy": member("throttlePolicy"),
        "requestPolicy": member("requestPolicy"),
        "guaranteed": given.get("guaranteed").cloned().unwrap_or(Value::Bool(false)),
    })
    .to_string()
}

/// A topic's HTTP delivery policy in force: AWS's defaults under what the topic set.
pub(super) fn effective_delivery_policy(set: Option<&String>) -> String {
    let mut policy = json!({
        "http": {
            "defaultHealthyRetryPolicy": default_healthy_retry_policy(),
            "disableSubscriptionOverrides": false,
            "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"}
        }
    });
    if let Some(Ok(Value::Object(given))) = set.map(|s| serde_json::from_str::<Value>(s))
        && let (Some(http), Some(given)) = (policy.get_mut("http"), given.get("http"))
    {
        merge(http, given);
    }
    policy.to_string()
}

/// A subscription's HTTP delivery policy in force, in the subscription's form: its own
/// members where it set them (unless the topic disables overrides), else the topic's.
pub(super) fn effective_subscription_policy(own: Option<&String>, topic: Option<&String>) -> Value {
    let topic: Value = serde_json::from_str(&effective_delivery_policy(topic)).unwrap_or_default();
    let http = &topic["http"];
    let own: Value = own
        .filter(|_| http["disableSubscriptionOverrides"] != Value::Bool(true))
        .map(|own| serde_json::from_str(&normalized_subscription_policy(own)).unwrap_or_default())
        .unwrap_or_else(|| {
            serde_json::from_str(&normalized_subscription_policy("{}")).unwrap_or_default()
        });
    let or = |key: &str, fallback: &Value| {
        if own[key].is_null() {
            fallback.clone()
        } else {
            own[key].clone()
        }
    };
    json!({
        "healthyRetryPolicy": or("healthyRetryPolicy", &http["defaultHealthyRetryPolicy"]),
        "sicklyRetryPolicy": or("sicklyRetryPolicy", &http["defaultSicklyRetryPolicy"]),
        "throttlePolicy": or("throttlePolicy", &http["defaultThrottlePolicy"]),
        "requestPolicy": or("requestPolicy", &http["defaultRequestPolicy"]),
        "guaranteed": own["guaranteed"].clone(),
    })
}

/// How an HTTP delivery is retried: attempts after the first and the delay before each.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RetryPolicy {
    pub retries: u32,
    pub min_delay_s: f64,
    pub max_delay_s: f64,
    pub no_delay_retries: u32,
    pub min_delay_retries: u32,
    pub max_delay_retries: u32,
    pub backoff: String,
}

impl RetryPolicy {
    /// From a `healthyRetryPolicy` (AWS's defaults for what it leaves out).
    pub(super) fn of(p: &Value) -> Self {
        let n = |key: &str, default: u64| p.get(key).and_then(Value::as_u64).unwrap_or(default);
        Self {
            retries: n("numRetries", 3) as u32,
            min_delay_s: n("minDelayTarget", 20) as f64,
            max_delay_s: n("maxDelayTarget", 20) as f64,
            no_delay_retries: n("numNoDelayRetries", 0) as u32,
            min_delay_retries: n("numMinDelayRetries", 0) as u32,
            max_delay_retries: n("numMaxDelayRetries", 0) as u32,
            backoff: p
                .get("backoffFunction")
                .and_then(Value::as_str)
                .unwrap_or("linear")
                .to_owned(),
        }
    }

    /// The delay before retry `n` (1-based), AWS's phases: immediate retries, retries at the
    /// minimum delay, the backoff phase from minimum to maximum, then retries at the maximum.
    pub(super) fn delay_s(&self, n: u32) -> f64 {
        if n <= self.no_delay_retries {
            return 0.0;
        }
        let n = n - self.no_delay_retries;
        if n <= self.min_delay_retries {
            return self.min_delay_s;
        }
        let n = n - self.min_delay_retries;
        let backoff_retries = self
            .retries
            .saturating_sub(self.no_delay_retries + self.min_delay_retries + self.max_delay_retries)
            .max(1);
        if n > backoff_retries {
            return self.max_delay_s;
        }
        let fraction = if backoff_retries <= 1 {
            1.0
        } else {
            f64::from(n - 1) / f64::from(backoff_retries - 1)
        };
        let span = self.max_delay_s - self.min_delay_s;
        let shaped = match self.backoff.as_str() {
            "arithmetic" => fraction * fraction,
            "geometric" => fraction.powi(3),
            "exponential" => (2f64.powf(fraction * 6.0) - 1.0) / 63.0,
            _ => fraction,
        };
        self.min_delay_s + span * shaped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn raw_message_delivery_is_true_or_false() {
        let err = apply_subscription(
            &map(&[]),
            &map(&[("RawMessageDelivery", "wrongvalue")]),
            "sqs",
        )
        .unwrap_err();
        assert_eq!(
            err,
            "RawMessageDelivery: Invalid value [wrongvalue]. Must be true or false."
        );
        let ok =
            apply_subscription(&map(&[]), &map(&[("RawMessageDelivery", "True")]), "sqs").unwrap();
        assert_eq!(ok["RawMessageDelivery"], "true");
        assert_eq!(
            apply_subscription(&map(&[]), &map(&[("Bogus", "1")]), "sqs").unwrap_err(),
            "AttributeName"
        );
    }

    #[test]
    fn redrive_policy_names_an_sqs_queue() {
        let err = apply_subscription(
            &map(&[]),
            &map(&[("RedrivePolicy", r#"{"deadLetterTargetArn": "not-an-arn"}"#)]),
            "sqs",
        )
        .unwrap_err();
        assert_eq!(err, "RedrivePolicy: deadLetterTargetArn is an invalid arn");
        assert!(
            apply_subscription(&map(&[]), &map(&[("RedrivePolicy", "{invalid")]), "sqs")
                .unwrap_err()
                .starts_with("RedrivePolicy: failed to parse JSON.")
        );
    }

    #[test]
    fn topic_attributes_follow_the_topic_type() {
        assert!(matches!(
            apply_topic(
                &map(&[]),
                &map(&[("ContentBasedDeduplication", "true")]),
                false,
                true
            ),
            Err(TopicError::InvalidParameter(_))
        ));
        let fifo = apply_topic(
            &map(&[]),
            &map(&[("FifoTopic", "true"), ("ContentBasedDeduplication", "true")]),
            true,
            true,
        )
        .unwrap();
        assert_eq!(fifo["FifoTopic"], "true");
        assert_eq!(
            apply_topic(&map(&[]), &map(&[("Nope", "1")]), false, true),
            Err(TopicError::InvalidParameter(
                "Invalid parameter: AttributeName".into()
            ))
        );
        assert!(
            apply_topic(
                &map(&[]),
                &map(&[("HTTPSuccessFeedbackSampleRate", "50")]),
                false,
                false
            )
            .is_ok()
        );
    }

    #[test]
    fn the_default_retry_policy_waits_twenty_seconds_three_times() {
        let effective = |own: Option<&str>, topic: Option<&str>| {
            effective_subscription_policy(
                own.map(str::to_owned).as_ref(),
                topic.map(str::to_owned).as_ref(),
            )
        };
        let policy = RetryPolicy::of(&effective(None, None)["healthyRetryPolicy"]);
        assert_eq!(policy.retries, 3);
        assert_eq!(
            (1..=3).map(|n| policy.delay_s(n)).collect::<Vec<_>>(),
            [20.0; 3]
        );
        let custom = RetryPolicy::of(
            &effective(
                None,
                Some(
                    r#"{"http":{"defaultHealthyRetryPolicy":{"numRetries":5,"numNoDelayRetries":2,"minDelayTarget":1,"maxDelayTarget":4}}}"#,
                ),
            )["healthyRetryPolicy"],
        );
        let delays: Vec<f64> = (1..=5).map(|n| custom.delay_s(n)).collect();
        assert_eq!(delays, [0.0, 0.0, 1.0, 2.5, 4.0]);
        // A subscription's policy wins over the topic's...
        let own =
            r#"{"healthyRetryPolicy":{"numRetries":1,"minDelayTarget":2,"maxDelayTarget":2}}"#;
        let subscription = RetryPolicy::of(&effective(Some(own), None)["healthyRetryPolicy"]);
        assert_eq!((subscription.retries, subscription.delay_s(1)), (1, 2.0));
        // ...unless the topic disables overrides.
        let locked = r#"{"http":{"disableSubscriptionOverrides":true}}"#;
        assert_eq!(
            RetryPolicy::of(&effective(Some(own), Some(locked))["healthyRetryPolicy"]).retries,
            3
        );
    }

    /// As AWS recorded them (LocalStack's `test_subscribe_external_http_endpoint_content_type`
    /// and `test_topic_delivery_policy_crud`).
    #[test]
    fn delivery_policies_read_back_as_aws_shows_them() {
        let own = r#"{"healthyRetryPolicy":{"minDelayTarget":1,"maxDelayTarget":1,"numRetries":0},"throttlePolicy":{"maxReceivesPerSecond":1000}}"#;
        let stored: Value = serde_json::from_str(&normalized_subscription_policy(own)).unwrap();
        let healthy = json!({"minDelayTarget": 1, "maxDelayTarget": 1, "numRetries": 0,
            "numMaxDelayRetries": 0, "numNoDelayRetries": 0, "numMinDelayRetries": 0,
            "backoffFunction": "linear"});
        assert_eq!(
            stored,
            json!({"healthyRetryPolicy": healthy, "sicklyRetryPolicy": null,
                   "throttlePolicy": {"maxReceivesPerSecond": 1000}, "requestPolicy": null,
                   "guaranteed": false})
        );
        let topic = r#"{"http":{"defaultRequestPolicy":{"headerContentType":"application/json"}}}"#;
        assert_eq!(
            serde_json::from_str::<Value>(&normalized_topic_policy(topic)).unwrap(),
            json!({"http": {"defaultRequestPolicy": {"headerContentType": "application/json"},
                            "disableSubscriptionOverrides": false}})
        );
        let effective =
            effective_subscription_policy(Some(&own.to_owned()), Some(&topic.to_owned()));
        assert_eq!(
            effective,
            json!({"healthyRetryPolicy": healthy, "sicklyRetryPolicy": null,
                   "throttlePolicy": {"maxReceivesPerSecond": 1000},
                   "requestPolicy": {"headerContentType": "application/json"},
                   "guaranteed": false})
        );
        let topic_effective: Value = serde_json::from_str(&effective_delivery_policy(Some(
            &r#"{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":5,"maxDelayTarget":6,"numRetries":1},"disableSubscriptionOverrides":false}}"#.to_owned(),
        )))
        .unwrap();
        assert_eq!(
            topic_effective["http"]["defaultHealthyRetryPolicy"],
            json!({"minDelayTarget": 5, "maxDelayTarget": 6, "numRetries": 1,
                   "numMaxDelayRetries": 0, "numNoDelayRetries": 0, "numMinDelayRetries": 0,
                   "backoffFunction": "linear"})
        );
        assert_eq!(
            topic_effective["http"]["defaultRequestPolicy"],
            json!({"headerContentType": "text/plain; charset=UTF-8"})
        );
    }
}
