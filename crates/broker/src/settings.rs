//! A queue's settable attributes: their names, AWS's ranges and defaults, and the parsed form
//! the broker runs on.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::Error;

/// The attributes a queue keeps, as AWS names them (the values as strings, as on the wire).
pub type AttributeMap = BTreeMap<String, String>;

/// Integer attributes: name, smallest, largest, default.
const RANGES: &[(&str, i64, i64, i64)] = &[
    ("DelaySeconds", 0, 900, 0),
    // 1 MiB: the limit and the default since August 2025.
    ("MaximumMessageSize", 1024, 1_048_576, 1_048_576),
    ("MessageRetentionPeriod", 60, 1_209_600, 345_600),
    ("ReceiveMessageWaitTimeSeconds", 0, 20, 0),
    ("VisibilityTimeout", 0, 43_200, 30),
    ("KmsDataKeyReusePeriodSeconds", 60, 86_400, 300),
];

/// Attributes kept as given (checked for their form only).
const FREE: &[&str] = &["Policy", "KmsMasterKeyId", "RedriveAllowPolicy"];

/// Booleans: name, default.
const BOOLEANS: &[(&str, bool)] = &[("SqsManagedSseEnabled", true)];

/// The attributes only FIFO queues have.
const FIFO_ONLY: &[&str] = &[
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
];

/// What the broker runs a queue on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub delay_seconds: i64,
    pub maximum_message_size: usize,
    pub retention_ms: i64,
    pub receive_wait_seconds: i64,
    pub visibility_timeout_seconds: i64,
    pub redrive: Option<Redrive>,
    /// A FIFO queue: ordered per message group, deduplicated.
    pub fifo: bool,
    pub content_based_deduplication: bool,
    /// `DeduplicationScope: messageGroup`: ids are unique per group, not per queue.
    pub deduplication_per_group: bool,
}

/// `RedrivePolicy`: where a message goes after `max_receive_count` receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redrive {
    pub dead_letter_target_arn: String,
    pub max_receive_count: u32,
}

/// Checks `given` (a CreateQueue's or SetQueueAttributes' attributes) and returns the queue's
/// attributes with them applied to `current` (defaults first for a new queue).
pub fn apply(current: &AttributeMap, given: &AttributeMap) -> Result<AttributeMap, Error> {
    let mut out = current.clone();
    let fifo = given
        .get("FifoQueue")
        .or_else(|| current.get("FifoQueue"))
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    for (name, value) in given {
        if let Some(&(_, min, max, _)) = RANGES.iter().find(|(n, ..)| n == name) {
            match value.trim().parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => {
                    out.insert(name.clone(), n.to_string());
                }
                _ => return Err(invalid_value(name)),
            }
        } else if BOOLEANS.iter().any(|(n, _)| n == name) {
            match value.to_ascii_lowercase().as_str() {
                "true" | "false" => {
                    out.insert(name.clone(), value.to_ascii_lowercase());
                }
                _ => return Err(invalid_value(name)),
            }
        } else if name == "RedrivePolicy" {
            if value.is_empty() {
                out.remove(name);
            } else {
                redrive(value)?;
                out.insert(name.clone(), value.clone());
            }
        } else if FREE.contains(&name.as_str()) {
            if name == "Policy"
                && !value.is_empty()
                && serde_json::from_str::<serde_json::Value>(value).is_err()
            {
                return Err(invalid_value(name));
            }
            out.insert(name.clone(), value.clone());
        } else if name == "FifoQueue" {
            match value.to_ascii_lowercase().as_str() {
                "true" => {
                    out.insert(name.clone(), "true".into());
                }
                "false" => {}
                _ => return Err(invalid_value(name)),
            }
        } else if FIFO_ONLY.contains(&name.as_str()) {
            if !fifo {
                return Err(Error::InvalidAttributeName(format!(
                    "You can specify the {name} only when FifoQueue is set to true."
                )));
            }
            let allowed: &[&str] = match name.as_str() {
                "ContentBasedDeduplication" => &["true", "false"],
                "DeduplicationScope" => &["messageGroup", "queue"],
                _ => &["perQueue", "perMessageGroupId"],
            };
            if !allowed.contains(&value.as_str()) {
                return Err(invalid_value(name));
            }
            out.insert(name.clone(), value.clone());
        } else {
            return Err(Error::InvalidAttributeName(format!(
                "Unknown Attribute {name}."
            )));
        }
    }
    // High throughput (a limit per message group) deduplicates per message group.
    if out.get("FifoThroughputLimit").map(String::as_str) == Some("perMessageGroupId")
        && out.get("DeduplicationScope").map(String::as_str) == Some("queue")
    {
        return Err(Error::InvalidAttributeValue(
            "Invalid value for the parameter FifoThroughputLimit. Reason: The perMessageGroupId value is allowed only when the value for DeduplicationScope is messageGroup.".into(),
        ));
    }
    Ok(out)
}

/// The attributes of a new queue before its CreateQueue's are applied.
pub fn defaults() -> AttributeMap {
    let mut out = AttributeMap::new();
    for (name, _, _, default) in RANGES {
        out.insert((*name).to_owned(), default.to_string());
    }
    for (name, default) in BOOLEANS {
        out.insert((*name).to_owned(), default.to_string());
    }
    out
}

impl Settings {
    pub fn of(attributes: &AttributeMap) -> Self {
        let int = |name: &str| {
            attributes
                .get(name)
                .and_then(|v| v.parse::<i64>().ok())
                .or_else(|| RANGES.iter().find(|(n, ..)| *n == name).map(|r| r.3))
                .unwrap_or(0)
        };
        Self {
            delay_seconds: int("DelaySeconds"),
            maximum_message_size: usize::try_from(int("MaximumMessageSize")).unwrap_or(1_048_576),
            retention_ms: int("MessageRetentionPeriod") * 1000,
            receive_wait_seconds: int("ReceiveMessageWaitTimeSeconds"),
            visibility_timeout_seconds: int("VisibilityTimeout"),
            redrive: attributes
                .get("RedrivePolicy")
                .and_then(|value| redrive(value).ok()),
            fifo: attributes.get("FifoQueue").is_some_and(|v| v == "true"),
            content_based_deduplication: attributes
                .get("ContentBasedDeduplication")
                .is_some_and(|v| v == "true"),
            deduplication_per_group: attributes
                .get("DeduplicationScope")
                .is_some_and(|v| v == "messageGroup"),
        }
    }
}

fn redrive(value: &str) -> Result<Redrive, Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Policy {
        dead_letter_target_arn: Option<String>,
        max_receive_count: Option<serde_json::Value>,
    }
    let invalid = |why: &str| {
        Error::InvalidAttributeValue(format!(
            "Value {value} for parameter RedrivePolicy is invalid. Reason: {why}"
        ))
    };
    let policy: Policy =
        serde_json::from_str(value).map_err(|_| invalid("Invalid value for RedrivePolicy."))?;
    let target = policy.dead_letter_target_arn.ok_or_else(|| {
        invalid("Redrive policy does not contain mandatory attribute: deadLetterTargetArn.")
    })?;
    let count = match policy.max_receive_count {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| {
        invalid("Redrive policy does not contain mandatory attribute: maxReceiveCount.")
    })?;
    if !(1..=1000).contains(&count) {
        return Err(invalid(
            "Invalid value for maxReceiveCount: must be between 1 and 1000.",
        ));
    }
    Ok(Redrive {
        dead_letter_target_arn: target,
        max_receive_count: count as u32,
    })
}

fn invalid_value(name: &str) -> Error {
    Error::InvalidAttributeValue(format!("Invalid value for the parameter {name}."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throughput_limit_per_group_needs_deduplication_per_group() {
        let fifo = map(&[("FifoQueue", "true")]);
        let given = map(&[
            ("FifoThroughputLimit", "perMessageGroupId"),
            ("DeduplicationScope", "queue"),
        ]);
        assert!(matches!(
            apply(&fifo, &given),
            Err(Error::InvalidAttributeValue(m)) if m.contains("DeduplicationScope is messageGroup")
        ));
        let high = map(&[
            ("FifoThroughputLimit", "perMessageGroupId"),
            ("DeduplicationScope", "messageGroup"),
        ]);
        assert!(apply(&fifo, &high).is_ok());
    }

    fn map(pairs: &[(&str, &str)]) -> AttributeMap {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn defaults_are_awss() {
        let settings = Settings::of(&defaults());
        assert_eq!(settings.visibility_timeout_seconds, 30);
        assert_eq!(settings.retention_ms, 345_600_000);
        assert_eq!(settings.maximum_message_size, 1_048_576);
        assert_eq!(settings.redrive, None);
    }

    #[test]
    fn ranges_and_names_are_checked() {
        let applied = apply(&defaults(), &map(&[("VisibilityTimeout", "60")])).unwrap();
        assert_eq!(Settings::of(&applied).visibility_timeout_seconds, 60);
        for (name, value) in [
            ("VisibilityTimeout", "43201"),
            ("DelaySeconds", "-1"),
            ("MaximumMessageSize", "1023"),
            ("ReceiveMessageWaitTimeSeconds", "21"),
            ("MessageRetentionPeriod", "x"),
        ] {
            assert_eq!(
                apply(&defaults(), &map(&[(name, value)])),
                Err(invalid_value(name)),
                "{name}={value}"
            );
        }
        assert!(matches!(
            apply(&defaults(), &map(&[("Nope", "1")])),
            Err(Error::InvalidAttributeName(m)) if m == "Unknown Attribute Nope."
        ));
    }

    #[test]
    fn redrive_policies_need_a_target_and_a_count() {
        let ok = r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":"3"}"#;
        let applied = apply(&defaults(), &map(&[("RedrivePolicy", ok)])).unwrap();
        assert_eq!(
            Settings::of(&applied).redrive,
            Some(Redrive {
                dead_letter_target_arn: "arn:aws:sqs:us-east-1:000000000000:dlq".into(),
                max_receive_count: 3
            })
        );
        for bad in [
            "{",
            r#"{"maxReceiveCount":3}"#,
            r#"{"deadLetterTargetArn":"a"}"#,
            r#"{"deadLetterTargetArn":"a","maxReceiveCount":0}"#,
        ] {
            assert!(
                matches!(
                    apply(&defaults(), &map(&[("RedrivePolicy", bad)])),
                    Err(Error::InvalidAttributeValue(_))
                ),
                "{bad}"
            );
        }
    }
}
