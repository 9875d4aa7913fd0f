//! Event notifications: which configured destinations an object's event goes to (event
//! types, prefix and suffix filters), and the event JSON S3 sends (`eventVersion` 2.1, the
//! version AWS documents for ObjectCreated and ObjectRemoved events). Pure: the buckets write
//! the notices this module makes into the store in the same commit as the object, and a
//! delivery loop outside this crate sends them (at least once).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{BucketInfo, Object};

/// The event version of the records S3 sends.
pub const EVENT_VERSION: &str = "2.1";

/// The event types S3 notifies, without the `s3:` prefix the configuration uses.
pub const EVENTS: [&str; 6] = [
    "ObjectCreated:Put",
    "ObjectCreated:Post",
    "ObjectCreated:Copy",
    "ObjectCreated:CompleteMultipartUpload",
    "ObjectRemoved:Delete",
    "ObjectRemoved:DeleteMarkerCreated",
];

/// Every event type a configuration may name (`s3:ObjectCreated:*`, ...), including those
/// Sluice accepts but never emits (restore, replication, lifecycle, tagging, ACL).
const CONFIGURABLE: [&str; 27] = [
    "s3:ReducedRedundancyLostObject",
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:Replication:*",
    "s3:Replication:OperationFailedReplication",
    "s3:Replication:OperationNotTracked",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
    "s3:ObjectAcl:Put",
];

/// Where a rule sends its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Queue,
    Topic,
    Function,
}

/// One destination of a bucket's notification configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    pub kind: Kind,
    pub arn: String,
    /// As configured: `s3:ObjectCreated:*`, ...
    pub events: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
}

/// A bucket's notification configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notifications {
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Every event also goes to the region's default event bus.
    #[serde(default)]
    pub event_bridge: bool,
}

/// The settings key a bucket keeps its configuration under.
pub const SETTING: &str = "notification";

/// Why a configuration is refused (S3's `InvalidArgument` message), or `None`.
pub fn config_error(config: &Notifications) -> Option<String> {
    for rule in &config.rules {
        if rule.events.is_empty() {
            return Some("The event is not supported for notifications".into());
        }
        if let Some(event) = rule
            .events
            .iter()
            .find(|e| !CONFIGURABLE.contains(&e.as_str()))
        {
            return Some(format!(
                "The event '{event}' is not supported for notifications"
            ));
        }
        if rule.id.chars().count() > 1024 {
            return Some("The notification id is too long".into());
        }
    }
    // Two rules that could both take one event of one key are refused, as AWS refuses them.
    for (i, a) in config.rules.iter().enumerate() {
        for b in &config.rules[i + 1..] {
            if a.id == b.id {
                return Some("Configurations overlap. Configurations on the same bucket cannot share a common event type.".into());
            }
            let shared = a
                .events
                .iter()
                .any(|x| b.events.iter().any(|y| events_overlap(x, y)));
            if shared && filters_overlap(a, b) {
                return Some("Configurations overlap. Configurations on the same bucket cannot share a common event type.".into());
            }
        }
    }
    None
}

fn events_overlap(a: &str, b: &str) -> bool {
    let family = |e: &str| e.rsplit_once(':').map(|(f, _)| f.to_owned());
    a == b
        || (a.ends_with(":*") && family(a) == family(b))
        || (b.ends_with(":*") && family(a) == family(b))
}

fn filters_overlap(a: &Rule, b: &Rule) -> bool {
    let prefixes = match (&a.prefix, &b.prefix) {
        (Some(x), Some(y)) => x.starts_with(y.as_str()) || y.starts_with(x.as_str()),
        _ => true,
    };
    let suffixes = match (&a.suffix, &b.suffix) {
        (Some(x), Some(y)) => x.ends_with(y.as_str()) || y.ends_with(x.as_str()),
        _ => true,
    };
    prefixes && suffixes
}

impl Rule {
    /// Whether this rule takes `event` (`ObjectCreated:Put`) of `key`.
    pub fn matches(&self, event: &str, key: &str) -> bool {
        let family = event.split(':').next().unwrap_or_default();
        let wanted = self.events.iter().any(|e| {
            let e = e.strip_prefix("s3:").unwrap_or(e);
            e == event || e.strip_suffix(":*") == Some(family)
        });
        wanted
            && self.prefix.as_deref().is_none_or(|p| key.starts_with(p))
            && self.suffix.as_deref().is_none_or(|s| key.ends_with(s))
    }
}

/// A notification to deliver: kept in the store from the object's commit until delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Unique: the idempotency key of the delivery.
    pub id: String,
    /// A queue, topic, function or (for EventBridge) event-bus ARN.
    pub arn: String,
    pub payload: String,
    /// For EventBridge: the event's `detail-type`; its source is `aws.s3` and its resource
    /// the bucket's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_arn: Option<String>,
}

/// Who and where an event comes from: what the event JSON reports of the request.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub principal: String,
    pub source_ip: String,
    pub request_id: String,
    pub account: String,
}

/// The notices of `event` on `object` under `bucket`'s configuration.
pub fn notices(
    bucket: &BucketInfo,
    object: &Object,
    event: &str,
    time_ms: i64,
    origin: &Origin,
) -> Vec<Notice> {
    let Some(config) = bucket
        .settings
        .get(SETTING)
        .and_then(|v| serde_json::from_value::<Notifications>(v.clone()).ok())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for rule in config
        .rules
        .iter()
        .filter(|r| r.matches(event, &object.key))
    {
        let record = record(bucket, object, event, &rule.id, time_ms, origin);
        out.push(Notice {
            id: notice_id(),
            arn: rule.arn.clone(),
            payload: json!({"Records": [record]}).to_string(),
            detail_type: None,
            bucket_arn: None,
        });
    }
    if config.event_bridge {
        out.push(Notice {
            id: notice_id(),
            arn: format!(
                "arn:aws:events:{}:{}:event-bus/default",
                bucket.region, origin.account
            ),
            payload: event_bridge_detail(bucket, object, event, origin).to_string(),
            detail_type: Some(
                if event.starts_with("ObjectCreated") {
                    "Object Created"
                } else {
                    "Object Deleted"
                }
                .into(),
            ),
            bucket_arn: Some(format!("arn:aws:s3:::{}", bucket.name)),
        });
    }
    out
}

fn notice_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// One record of S3's event JSON.
pub fn record(
    bucket: &BucketInfo,
    object: &Object,
    event: &str,
    configuration_id: &str,
    time_ms: i64,
    origin: &Origin,
) -> Value {
    let mut object_json = json!({
        "key": url_encode_key(&object.key),
        "sequencer": sequencer(object.seq),
    });
    // Deletes carry neither size nor ETag, on AWS too.
    if event.starts_with("ObjectCreated") {
        object_json["size"] = json!(object.size);
        object_json["eTag"] = json!(object.etag.trim_matches('"'));
    }
    json!({
        "eventVersion": EVENT_VERSION,
        "eventSource": "aws:s3",
        "awsRegion": bucket.region,
        "eventTime": iso_time(time_ms),
        "eventName": event,
        "userIdentity": {"principalId": origin.principal},
        "requestParameters": {"sourceIPAddress": origin.source_ip},
        "responseElements": {
            "x-amz-request-id": origin.request_id,
            "x-amz-id-2": host_id(&origin.request_id),
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": bucket.name,
                "ownerIdentity": {"principalId": origin.principal},
                "arn": format!("arn:aws:s3:::{}", bucket.name),
            },
            "object": object_json,
        },
    })
}

/// The `detail` of an EventBridge event for `event`.
fn event_bridge_detail(
    bucket: &BucketInfo,
    object: &Object,
    event: &str,
    origin: &Origin,
) -> Value {
    let created = event.starts_with("ObjectCreated");
    let mut object_json = json!({"key": object.key, "sequencer": sequencer(object.seq)});
    if created {
        object_json["size"] = json!(object.size);
        object_json["etag"] = json!(object.etag.trim_matches('"'));
    }
    let reason = match event {
        "ObjectCreated:Put" => "PutObject",
        "ObjectCreated:Post" => "PostObject",
        "ObjectCreated:Copy" => "CopyObject",
        "ObjectCreated:CompleteMultipartUpload" => "CompleteMultipartUpload",
        _ => "DeleteObject",
    };
    let mut detail = json!({
        "version": "0",
        "bucket": {"name": bucket.name},
        "object": object_json,
        "request-id": origin.request_id,
        "requester": origin.account,
        "source-ip-address": origin.source_ip,
        "reason": reason,
    });
    if !created {
        detail["deletion-type"] = json!("Permanently Deleted");
    }
    detail
}

/// The test event S3 sends to a queue or topic when a configuration is put.
pub fn test_event(bucket: &str, time_ms: i64, request_id: &str) -> String {
    json!({
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": iso_time(time_ms),
        "Bucket": bucket,
        "RequestId": request_id,
        "HostId": host_id(request_id),
    })
    .to_string()
}

/// Orders events of one key: a later write's sequencer is greater (hex, fixed width).
fn sequencer(seq: u64) -> String {
    format!("{seq:016X}")
}

fn host_id(request_id: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(request_id.as_bytes())
}

/// The key as S3 puts it in events: URL-encoded as a form value (a space is `+`).
pub fn url_encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'*' | b'/' => {
                out.push(byte as char);
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// `2026-12-07T12:00:00.123Z`.
pub fn iso_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(events: &[&str], prefix: Option<&str>, suffix: Option<&str>) -> Rule {
        Rule {
            id: format!("{events:?}{prefix:?}{suffix:?}"),
            kind: Kind::Queue,
            arn: "arn:aws:sqs:us-east-1:000000000000:q".into(),
            events: events.iter().map(|e| e.to_string()).collect(),
            prefix: prefix.map(str::to_owned),
            suffix: suffix.map(str::to_owned),
        }
    }

    #[test]
    fn rules_match_event_families_prefixes_and_suffixes() {
        let all_created = rule(&["s3:ObjectCreated:*"], Some("in/"), Some(".csv"));
        assert!(all_created.matches("ObjectCreated:Put", "in/a.csv"));
        assert!(all_created.matches("ObjectCreated:CompleteMultipartUpload", "in/b.csv"));
        assert!(!all_created.matches("ObjectRemoved:Delete", "in/a.csv"));
        assert!(!all_created.matches("ObjectCreated:Put", "out/a.csv"));
        assert!(!all_created.matches("ObjectCreated:Put", "in/a.json"));
        let copies = rule(&["s3:ObjectCreated:Copy"], None, None);
        assert!(copies.matches("ObjectCreated:Copy", "x"));
        assert!(!copies.matches("ObjectCreated:Put", "x"));
    }

    #[test]
    fn overlapping_and_unknown_configurations_are_refused() {
        let config = |rules| Notifications {
            rules,
            event_bridge: false,
        };
        assert!(config_error(&config(vec![rule(&["s3:ObjectCreated:Put"], None, None)])).is_none());
        assert!(config_error(&config(vec![rule(&["s3:ObjectMade:*"], None, None)])).is_some());
        let overlapping = config(vec![
            rule(&["s3:ObjectCreated:*"], Some("a/"), None),
            rule(&["s3:ObjectCreated:Put"], Some("a/b"), None),
        ]);
        assert!(config_error(&overlapping).is_some());
        let disjoint = config(vec![
            rule(&["s3:ObjectCreated:*"], Some("a/"), None),
            rule(&["s3:ObjectCreated:*"], Some("b/"), None),
        ]);
        assert!(config_error(&disjoint).is_none());
    }

    #[test]
    fn keys_and_times_as_s3_writes_them() {
        assert_eq!(url_encode_key("red flower.jpg"), "red+flower.jpg");
        assert_eq!(url_encode_key("a/b=c&ü"), "a/b%3Dc%26%C3%BC");
        assert_eq!(iso_time(1_796_644_800_123), "2026-12-07T12:00:00.123Z");
        assert_eq!(iso_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(sequencer(255), "00000000000000FF");
    }
}
