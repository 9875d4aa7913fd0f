//! PutEvents' entries: AWS's checks per entry and per request, and the envelope EventBridge
//! delivers (`version`, `id`, `detail-type`, `source`, `account`, `time`, `region`,
//! `resources`, `detail`, in that order).

use serde_json::{Map, Value, json};
use sluice_api::events::model::PutEventsRequestEntry;

/// The most a PutEvents request may carry, counted AWS's way ([`entry_size`]): 256 KiB.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// An entry's size as AWS counts it against the request's limit: 14 bytes for a `Time`, the
/// UTF-8 bytes of `Source`, `DetailType`, `Detail` and each resource.
pub fn entry_size(entry: &PutEventsRequestEntry) -> usize {
    let text = |s: &Option<String>| s.as_deref().map_or(0, str::len);
    entry.time.map_or(0, |_| 14)
        + text(&entry.source)
        + text(&entry.detail_type)
        + text(&entry.detail)
        + entry
            .resources
            .iter()
            .flatten()
            .map(String::len)
            .sum::<usize>()
}

/// Why an entry is refused: its `ErrorCode` and `ErrorMessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError {
    pub code: &'static str,
    pub message: &'static str,
}

/// The entry's detail, or AWS's reason to refuse the entry.
pub fn check(entry: &PutEventsRequestEntry) -> Result<Map<String, Value>, EntryError> {
    let required = |given: &Option<String>, message| match given.as_deref() {
        Some(s) if !s.is_empty() => Ok(()),
        _ => Err(EntryError {
            code: "InvalidArgument",
            message,
        }),
    };
    required(
        &entry.source,
        "Parameter Source is not valid. Reason: Source is a required argument.",
    )?;
    required(
        &entry.detail_type,
        "Parameter DetailType is not valid. Reason: DetailType is a required argument.",
    )?;
    required(
        &entry.detail,
        "Parameter Detail is not valid. Reason: Detail is a required argument.",
    )?;
    match serde_json::from_str::<Value>(entry.detail.as_deref().unwrap_or_default()) {
        Ok(Value::Object(detail)) => Ok(detail),
        _ => Err(EntryError {
            code: "MalformedDetail",
            message: "Detail is malformed.",
        }),
    }
}

/// `ms` since the epoch as EventBridge writes an event's `time`: UTC, whole seconds.
pub fn time_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// What an event is made of, besides the account and region of its bus.
pub struct Fields<'a> {
    pub id: &'a str,
    pub detail_type: &'a str,
    pub source: &'a str,
    pub time_ms: i64,
    pub resources: &'a [String],
    pub detail: Value,
}

/// The event as EventBridge delivers it to targets.
pub fn envelope(fields: Fields<'_>, account: &str, region: &str) -> Value {
    json!({
        "version": "0",
        "id": fields.id,
        "detail-type": fields.detail_type,
        "source": fields.source,
        "account": account,
        "time": time_text(fields.time_ms),
        "region": region,
        "resources": fields.resources,
        "detail": fields.detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(detail: Option<&str>) -> PutEventsRequestEntry {
        PutEventsRequestEntry {
            source: Some("my.app".into()),
            detail_type: Some("Order".into()),
            detail: detail.map(str::to_owned),
            ..PutEventsRequestEntry::default()
        }
    }

    #[test]
    fn the_envelope_has_aws_fields_in_aws_order() {
        let event = envelope(
            Fields {
                id: "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
                detail_type: "Order",
                source: "my.app",
                time_ms: 1_796_673_600_123,
                resources: &["arn:aws:s3:::b".to_owned()],
                detail: json!({"a": 1}),
            },
            "000000000000",
            "us-east-1",
        );
        assert_eq!(
            event.to_string(),
            r#"{"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","detail-type":"Order","source":"my.app","account":"000000000000","time":"2026-12-07T20:00:00Z","region":"us-east-1","resources":["arn:aws:s3:::b"],"detail":{"a":1}}"#
        );
    }

    #[test]
    fn entries_are_refused_with_aws_codes() {
        assert!(check(&entry(Some(r#"{"a":1}"#))).is_ok());
        for malformed in [r#""text""#, "[1]", "{", "\"{}\""] {
            assert_eq!(
                check(&entry(Some(malformed))).unwrap_err().code,
                "MalformedDetail"
            );
        }
        let missing = check(&entry(None)).unwrap_err();
        assert_eq!(missing.code, "InvalidArgument");
        assert_eq!(
            missing.message,
            "Parameter Detail is not valid. Reason: Detail is a required argument."
        );
        let mut no_source = entry(Some("{}"));
        no_source.source = None;
        assert_eq!(
            check(&no_source).unwrap_err().message,
            "Parameter Source is not valid. Reason: Source is a required argument."
        );
    }

    #[test]
    fn sizes_count_as_aws_counts() {
        let mut e = entry(Some("{}"));
        e.time = Some(1.0);
        e.resources = Some(vec!["abc".into()]);
        assert_eq!(entry_size(&e), 14 + 6 + 5 + 2 + 3);
    }
}
