//! Scheduled rules: when a rule's `ScheduleExpression` fires next, and the record that keeps
//! it (kind [`super::SCHEDULE_KIND`], written in the same commit as the fire it follows).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sluice_schedule::{Bounds, Expression, Zone};
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

/// The first fire of `expression` strictly after `after_ms`, in UTC as rules are: a rate
/// counts its periods from the rule's creation. `None` for an expression rules refuse (PutRule
/// checked it) or a cron with no more fires.
pub(super) fn next_fire(expression: &str, created_ms: i64, after_ms: i64) -> Option<i64> {
    let expression = Expression::parse_rule(expression).ok()?;
    let bounds = Bounds {
        start: Timestamp::from_millisecond(created_ms).ok()?,
        end: None,
    };
    let after = Timestamp::from_millisecond(after_ms).ok()?;
    expression
        .next_after(&Zone::utc(), after, bounds)
        .map(|at| at.as_millisecond())
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

    #[test]
    fn crons_fire_on_their_minutes_in_utc() {
        // 2026-12-07T20:00:00Z
        let at = 1_796_673_600_000;
        assert_eq!(
            next_fire("cron(0/15 * * * ? *)", 0, at),
            Some(at + 15 * 60_000)
        );
        assert_eq!(
            next_fire("cron(0 12 * * ? *)", 0, at),
            Some(at + 16 * 3_600_000)
        );
        assert_eq!(next_fire("cron(bad)", 0, at), None);
    }
}
