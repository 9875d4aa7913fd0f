//! Scheduled rules: when a rule's `ScheduleExpression` fires next, and the record that keeps
//! it (kind [`super::SCHEDULE_KIND`], written in the same commit as the fire it follows).

use serde::{Deserialize, Serialize};
use sluice_store::{ResourceRecord, Write};

use super::SCHEDULE_KIND;

/// A scheduled rule's next fire, as stored.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Next {
    pub next_ms: i64,
}

/// The write that records `next` as the rule's next fire (or forgets it).
pub(super) fn write(rule_arn: &str, next: Option<i64>) -> Write {
    match next {
        Some(next_ms) => Write::PutResource(ResourceRecord {
            kind: SCHEDULE_KIND.into(),
            key: rule_arn.to_owned(),
            body: serde_json::to_vec(&Next { next_ms }).unwrap_or_default(),
        }),
        None => Write::DeleteResource {
            kind: SCHEDULE_KIND.into(),
            key: rule_arn.to_owned(),
        },
    }
}

/// The first fire of `expression` strictly after `after_ms`: a rate counts its periods from
/// the rule's creation.
pub(super) fn next_fire(expression: &str, created_ms: i64, after_ms: i64) -> Option<i64> {
    let rate = expression.strip_prefix("rate(")?.strip_suffix(')')?;
    let (value, unit) = rate.split_once(' ')?;
    let value: i64 = value.parse().ok()?;
    let unit_ms = match unit.trim_end_matches('s') {
        "minute" => 60_000,
        "hour" => 3_600_000,
        "day" => 86_400_000,
        _ => return None,
    };
    let period = value.checked_mul(unit_ms).filter(|p| *p > 0)?;
    if after_ms < created_ms {
        return Some(created_ms + period);
    }
    let periods = (after_ms - created_ms) / period + 1;
    created_ms.checked_add(periods.checked_mul(period)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_count_their_periods_from_the_rule_creation() {
        assert_eq!(next_fire("rate(1 minute)", 1_000, 1_000), Some(61_000));
        assert_eq!(next_fire("rate(5 minutes)", 0, 300_000), Some(600_000));
        assert_eq!(next_fire("rate(2 hours)", 0, 1), Some(7_200_000));
        assert_eq!(next_fire("rate(1 day)", 0, 0), Some(86_400_000));
    }
}
