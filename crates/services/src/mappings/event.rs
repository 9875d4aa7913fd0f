//! What a mapping hands its function and what it reads back: the SQS event exactly as Lambda
//! builds it (`Records[]`, field order included), the record a `FilterCriteria` pattern sees,
//! and AWS's rules for a `ReportBatchItemFailures` response.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;
use sluice_broker::{AttributeValue, Received};

use crate::sqs::SENDER_ID;

/// One record of the event, in AWS's field order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Record<'a> {
    message_id: &'a str,
    receipt_handle: &'a str,
    body: &'a str,
    attributes: Attributes<'a>,
    message_attributes: BTreeMap<&'a str, MessageAttribute<'a>>,
    /// `null` when the message has no attributes, as AWS sends it.
    md5_of_message_attributes: Option<&'a str>,
    md5_of_body: &'a str,
    event_source: &'static str,
    #[serde(rename = "eventSourceARN")]
    event_source_arn: &'a str,
    aws_region: &'a str,
}

/// The system attributes, in the order AWS's events list them (FIFO members where AWS puts
/// them).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Attributes<'a> {
    approximate_receive_count: String,
    sent_timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence_number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_group_id: Option<&'a str>,
    sender_id: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_deduplication_id: Option<&'a str>,
    approximate_first_receive_timestamp: String,
    #[serde(rename = "AWSTraceHeader", skip_serializing_if = "Option::is_none")]
    aws_trace_header: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dead_letter_queue_source_arn: Option<&'a str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MessageAttribute<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    string_value: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    binary_value: Option<String>,
    string_list_values: [(); 0],
    binary_list_values: [(); 0],
    data_type: &'a str,
}

/// `received` as a record of `queue_arn`'s event in `region`.
pub(crate) fn record<'a>(
    received: &'a Received,
    queue_arn: &'a str,
    region: &'a str,
) -> Record<'a> {
    let sent = &received.sent;
    let message_attributes = sent
        .attributes
        .iter()
        .map(|(name, attribute)| {
            let (string_value, binary_value) = match &attribute.value {
                AttributeValue::String(s) => (Some(s.as_str()), None),
                AttributeValue::Binary(b) => (
                    None,
                    Some(base64::engine::general_purpose::STANDARD.encode(b)),
                ),
            };
            (
                name.as_str(),
                MessageAttribute {
                    string_value,
                    binary_value,
                    string_list_values: [],
                    binary_list_values: [],
                    data_type: &attribute.data_type,
                },
            )
        })
        .collect();
    Record {
        message_id: &sent.id,
        receipt_handle: &received.receipt_handle,
        body: &sent.body,
        attributes: Attributes {
            approximate_receive_count: received.receive_count.to_string(),
            sent_timestamp: sent.sent_ms.to_string(),
            sequence_number: sent.sequence_number.as_deref(),
            message_group_id: sent.group_id.as_deref(),
            sender_id: SENDER_ID,
            message_deduplication_id: sent.deduplication_id.as_deref(),
            approximate_first_receive_timestamp: received.first_receive_ms.to_string(),
            aws_trace_header: sent.trace_header.as_deref(),
            dead_letter_queue_source_arn: sent.dead_letter_source.as_deref(),
        },
        message_attributes,
        md5_of_message_attributes: sent.md5_of_attributes.as_deref(),
        md5_of_body: &sent.md5_of_body,
        event_source: "aws:sqs",
        event_source_arn: queue_arn,
        aws_region: region,
    }
}

/// The invocation payload `{"Records": [...]}` of the first records that fit in `limit` bytes
/// (at least one), and how many that is: AWS sends a batch of at most the synchronous
/// payload limit, whatever the batch size.
pub(crate) fn payload(records: &[Record<'_>], limit: usize) -> (Vec<u8>, usize) {
    const HEAD: &[u8] = b"{\"Records\":[";
    const TAIL: &[u8] = b"]}";
    let mut out = Vec::with_capacity(1024 * records.len().min(64));
    out.extend_from_slice(HEAD);
    let mut count = 0;
    for record in records {
        let mark = out.len();
        if count > 0 {
            out.push(b',');
        }
        // Plain data: serializing cannot fail.
        let _ = serde_json::to_writer(&mut out, record);
        if count > 0 && out.len() + TAIL.len() > limit {
            out.truncate(mark);
            break;
        }
        count += 1;
    }
    out.extend_from_slice(TAIL);
    (out, count)
}

/// What a filter pattern is matched against: the record, with a body that is JSON parsed
/// (AWS filters on `body` fields only when the body is a JSON object; otherwise the body is
/// the plain string).
pub(crate) fn filter_view(record: &Record<'_>) -> Value {
    let mut value = serde_json::to_value(record).unwrap_or(Value::Null);
    if let Ok(body @ Value::Object(_)) = serde_json::from_str::<Value>(record.body)
        && let Some(slot) = value.get_mut("body")
    {
        *slot = body;
    }
    value
}

/// What a `ReportBatchItemFailures` response says about a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BatchResult {
    /// Every message succeeded: delete them all.
    AllSucceeded,
    /// These message ids failed (they come back after the visibility timeout); delete the
    /// rest.
    Failed(Vec<String>),
    /// The response is malformed: the whole batch failed.
    AllFailed,
}

/// Reads a function's response for a batch of `message_ids` by AWS's rules: an empty or null
/// response or `batchItemFailures` list is a full success; invalid JSON, an item without a
/// non-empty string `itemIdentifier`, or one naming no message of the batch is a full
/// failure.
pub(crate) fn batch_result(response: &[u8], message_ids: &[&str]) -> BatchResult {
    if response.iter().all(u8::is_ascii_whitespace) {
        return BatchResult::AllSucceeded;
    }
    let Ok(value) = serde_json::from_slice::<Value>(response) else {
        return BatchResult::AllFailed;
    };
    let failures = match &value {
        Value::Null => return BatchResult::AllSucceeded,
        Value::Object(object) => match object.get("batchItemFailures") {
            None | Some(Value::Null) => return BatchResult::AllSucceeded,
            Some(Value::Array(items)) => items,
            Some(_) => return BatchResult::AllFailed,
        },
        _ => return BatchResult::AllFailed,
    };
    let mut failed = Vec::with_capacity(failures.len());
    for item in failures {
        match item.get("itemIdentifier") {
            Some(Value::String(id)) if !id.is_empty() && message_ids.contains(&id.as_str()) => {
                if !failed.contains(id) {
                    failed.push(id.clone());
                }
            }
            _ => return BatchResult::AllFailed,
        }
    }
    if failed.is_empty() {
        BatchResult::AllSucceeded
    } else {
        BatchResult::Failed(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_broker::{Attribute, Sent};

    fn received(attributes: &[(&str, &str, AttributeValue)], fifo: bool) -> Received {
        Received {
            sent: Sent {
                id: "059f36b4-87a3-44ab-83d2-661975830a7d".into(),
                body: "{\"order\": 7}".into(),
                md5_of_body: "e4e68fb7bd0e697a0ae8f1bb342846b3".into(),
                attributes: attributes
                    .iter()
                    .map(|(name, data_type, value)| {
                        (
                            (*name).to_owned(),
                            Attribute {
                                data_type: (*data_type).to_owned(),
                                value: value.clone(),
                            },
                        )
                    })
                    .collect(),
                md5_of_attributes: (!attributes.is_empty())
                    .then(|| "d25a6aea97eb8f585bfa92d314504a92".to_owned()),
                sent_ms: 1_545_082_649_183,
                trace_header: None,
                dead_letter_source: None,
                group_id: fifo.then(|| "g1".to_owned()),
                deduplication_id: fifo.then(|| "d1".to_owned()),
                sequence_number: fifo.then(|| "18849496460467696128".to_owned()),
            },
            receipt_handle: "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a".into(),
            receive_count: 1,
            first_receive_ms: 1_545_082_649_185,
        }
    }

    const ARN: &str = "arn:aws:sqs:us-east-1:000000000000:orders";

    #[test]
    fn records_have_aws_fields_in_aws_order() {
        let message = received(
            &[
                ("Author", "String", AttributeValue::String("John".into())),
                ("Blob", "Binary", AttributeValue::Binary(vec![1, 2, 3])),
            ],
            false,
        );
        let (bytes, count) = payload(&[record(&message, ARN, "us-east-1")], usize::MAX);
        assert_eq!(count, 1);
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"{"Records":[{"messageId":"059f36b4-87a3-44ab-83d2-661975830a7d","#,
                r#""receiptHandle":"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a","body":"{\"order\": 7}","#,
                r#""attributes":{"ApproximateReceiveCount":"1","SentTimestamp":"1545082649183","#,
                r#""SenderId":"AIDAIT2UOQQY3AUEKVGXU","ApproximateFirstReceiveTimestamp":"1545082649185"},"#,
                r#""messageAttributes":{"Author":{"stringValue":"John","stringListValues":[],"#,
                r#""binaryListValues":[],"dataType":"String"},"Blob":{"binaryValue":"AQID","#,
                r#""stringListValues":[],"binaryListValues":[],"dataType":"Binary"}},"#,
                r#""md5OfMessageAttributes":"d25a6aea97eb8f585bfa92d314504a92","#,
                r#""md5OfBody":"e4e68fb7bd0e697a0ae8f1bb342846b3","eventSource":"aws:sqs","#,
                r#""eventSourceARN":"arn:aws:sqs:us-east-1:000000000000:orders","awsRegion":"us-east-1"}]}"#
            )
        );
    }

    #[test]
    fn fifo_records_carry_group_sequence_and_deduplication_as_aws_orders_them() {
        let message = received(&[], true);
        let value: Value =
            serde_json::from_slice(&payload(&[record(&message, ARN, "us-east-1")], usize::MAX).0)
                .unwrap();
        let record = &value["Records"][0];
        let keys: Vec<&str> = record["attributes"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "ApproximateReceiveCount",
                "SentTimestamp",
                "SequenceNumber",
                "MessageGroupId",
                "SenderId",
                "MessageDeduplicationId",
                "ApproximateFirstReceiveTimestamp"
            ]
        );
        assert_eq!(record["md5OfMessageAttributes"], Value::Null);
        assert_eq!(record["messageAttributes"], serde_json::json!({}));
    }

    #[test]
    fn a_payload_holds_the_records_that_fit_in_the_limit() {
        let messages: Vec<Received> = (0..5).map(|_| received(&[], false)).collect();
        let records: Vec<Record<'_>> = messages
            .iter()
            .map(|m| record(m, ARN, "us-east-1"))
            .collect();
        let (whole, count) = payload(&records, usize::MAX);
        assert_eq!(count, 5);
        let one = payload(&records[..1], usize::MAX).0.len();
        // Room for two records and a bit: two, valid JSON.
        let (two, count) = payload(&records, 2 * one + 10);
        assert_eq!(count, 2);
        assert!(two.len() <= 2 * one + 10);
        let value: Value = serde_json::from_slice(&two).unwrap();
        assert_eq!(value["Records"].as_array().unwrap().len(), 2);
        let value: Value = serde_json::from_slice(&whole).unwrap();
        assert_eq!(value["Records"].as_array().unwrap().len(), 5);
        // At least one record, whatever the limit.
        assert_eq!(payload(&records, 1).1, 1);
    }

    #[test]
    fn filters_see_a_json_body_parsed_and_other_bodies_as_text() {
        let message = received(&[], false);
        let view = filter_view(&record(&message, ARN, "us-east-1"));
        assert_eq!(view["body"]["order"], 7);
        let mut plain = received(&[], false);
        plain.sent.body = "hello".into();
        let view = filter_view(&record(&plain, ARN, "us-east-1"));
        assert_eq!(view["body"], "hello");
    }

    #[test]
    fn batch_item_failures_follow_aws_rules() {
        let ids = ["a", "b", "c"];
        for (response, expected) in [
            ("", BatchResult::AllSucceeded),
            ("null", BatchResult::AllSucceeded),
            ("{}", BatchResult::AllSucceeded),
            (r#"{"batchItemFailures": null}"#, BatchResult::AllSucceeded),
            (r#"{"batchItemFailures": []}"#, BatchResult::AllSucceeded),
            (
                r#"{"batchItemFailures": [{"itemIdentifier": "b"}]}"#,
                BatchResult::Failed(vec!["b".into()]),
            ),
            (
                r#"{"batchItemFailures": [{"itemIdentifier": "c"}, {"itemIdentifier": "a"}, {"itemIdentifier": "c"}]}"#,
                BatchResult::Failed(vec!["c".into(), "a".into()]),
            ),
            // Malformed: the whole batch failed.
            ("not json", BatchResult::AllFailed),
            ("\"text\"", BatchResult::AllFailed),
            ("[1]", BatchResult::AllFailed),
            (r#"{"batchItemFailures": "b"}"#, BatchResult::AllFailed),
            (
                r#"{"batchItemFailures": [{"itemIdentifier": ""}]}"#,
                BatchResult::AllFailed,
            ),
            (
                r#"{"batchItemFailures": [{"itemIdentifier": null}]}"#,
                BatchResult::AllFailed,
            ),
            (
                r#"{"batchItemFailures": [{"itemId": "b"}]}"#,
                BatchResult::AllFailed,
            ),
            (
                r#"{"batchItemFailures": [{"itemIdentifier": "zzz"}]}"#,
                BatchResult::AllFailed,
            ),
            (
                r#"{"batchItemFailures": [{"itemIdentifier": 3}]}"#,
                BatchResult::AllFailed,
            ),
        ] {
            assert_eq!(
                batch_result(response.as_bytes(), &ids),
                expected,
                "{response}"
            );
        }
    }
}
