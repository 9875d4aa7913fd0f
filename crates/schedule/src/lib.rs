//! Schedule expressions as EventBridge Scheduler and EventBridge rules accept them, and when
//! they fire. Pure: no I/O, no async, no clock (instants come in as arguments).
//!
//! - [`Expression::parse_schedule`]: Scheduler's `at(yyyy-mm-ddThh:mm:ss)`, `rate(value unit)`
//!   and six-field `cron(...)`; [`Expression::parse_rule`]: rules' `rate` and `cron` (no `at`).
//!   Both refuse what AWS refuses; [`ExpressionError::schedule_message`] and
//!   [`ExpressionError::rule_message`] are the two services' wordings.
//! - [`Zone::parse`]: an IANA time zone from the bundled database (the same answers on every
//!   machine, with or without `/usr/share/zoneinfo`).
//! - [`Expression::next_after`]: the first fire strictly after an instant, within [`Bounds`].
//!
//! Time-zone rules, as the Scheduler documents them: cron and at are local wall-clock times; a
//! local time that a spring-forward skips does not fire (cron), an hour that a fall-back repeats
//! fires once (its first occurrence); rates are fixed durations (`rate(1 day)` is 24 hours,
//! whatever the clocks do). The precision is the minute: cron fires at second 0.

mod cron;

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};

pub use cron::{Cron, CronError};

/// A parsed schedule expression; `Display` gives back the text it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expression {
    text: String,
    kind: Kind,
}

/// What an expression asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// One time, at a local date and time of the schedule's zone.
    At(DateTime),
    /// Every `every`, counted from the schedule's start.
    Rate {
        value: u32,
        unit: RateUnit,
    },
    Cron(Cron),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateUnit {
    Minute,
    Hour,
    Day,
}

impl RateUnit {
    fn seconds(self) -> i64 {
        match self {
            RateUnit::Minute => 60,
            RateUnit::Hour => 3_600,
            RateUnit::Day => 86_400,
        }
    }
}

/// Why an expression was refused. Both services answer with one message whatever the
/// reason; the reason is for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid schedule expression `{text}`: {reason}")]
pub struct ExpressionError {
    pub text: String,
    pub reason: Reason,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    #[error("expected at(...), rate(...) or cron(...)")]
    UnknownType,
    #[error("EventBridge rules take rate(...) or cron(...)")]
    AtInRule,
    #[error("expected at(yyyy-mm-ddThh:mm:ss)")]
    At,
    #[error(
        "expected rate(value unit): a positive value, and minute, hour or day when it is 1, minutes, hours or days otherwise"
    )]
    Rate,
    #[error(transparent)]
    Cron(#[from] CronError),
}

impl ExpressionError {
    /// EventBridge Scheduler's `ValidationException` message.
    pub fn schedule_message(&self) -> String {
        format!("Invalid Schedule Expression {}.", self.text)
    }

    /// EventBridge's (PutRule) `ValidationException` message.
    pub fn rule_message(&self) -> &'static str {
        "Parameter ScheduleExpression is not valid."
    }
}

/// The instants a recurring schedule may fire between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// The schedule's StartDate, or when it was created: a rate counts its periods from here
    /// (its first fire is here), a cron fires no earlier.
    pub start: Timestamp,
    /// The schedule's EndDate: nothing fires after it.
    pub end: Option<Timestamp>,
}

impl Expression {
    /// EventBridge Scheduler's grammar: `at`, `rate` and `cron`.
    pub fn parse_schedule(text: &str) -> Result<Expression, ExpressionError> {
        Self::parse(text, true)
    }

    /// EventBridge rules' grammar: `rate` and `cron`, evaluated in UTC.
    pub fn parse_rule(text: &str) -> Result<Expression, ExpressionError> {
        Self::parse(text, false)
    }

    fn parse(text: &str, at_allowed: bool) -> Result<Expression, ExpressionError> {
        let error = |reason| ExpressionError {
            text: text.to_owned(),
            reason,
        };
        let kind = if let Some(body) = inner(text, "at") {
            if !at_allowed {
                return Err(error(Reason::AtInRule));
            }
            Kind::At(parse_at(body).ok_or_else(|| error(Reason::At))?)
        } else if let Some(body) = inner(text, "rate") {
            let (value, unit) = parse_rate(body).ok_or_else(|| error(Reason::Rate))?;
            Kind::Rate { value, unit }
        } else if let Some(body) = inner(text, "cron") {
            Kind::Cron(Cron::parse(body).map_err(|e| error(e.into()))?)
        } else {
            return Err(error(Reason::UnknownType));
        };
        Ok(Expression {
            text: text.to_owned(),
            kind,
        })
    }

    pub fn kind(&self) -> &Kind {
        &self.kind
    }

    /// `at()`: fires once, whatever the bounds (AWS ignores StartDate and EndDate for them).
    pub fn is_one_time(&self) -> bool {
        matches!(self.kind, Kind::At(_))
    }

    /// The first fire strictly after `after`, within `bounds`; None when there is none (an
    /// `at()` already past, the end date reached, a cron with no more matching minute before
    /// 2200).
    pub fn next_after(&self, zone: &Zone, after: Timestamp, bounds: Bounds) -> Option<Timestamp> {
        match &self.kind {
            Kind::At(local) => {
                // A one-time schedule set in a skipped hour still fires, at the same offset
                // past the gap (jiff's "compatible", as a clock that was not moved would).
                let at = zone.0.to_ambiguous_timestamp(*local).compatible().ok()?;
                (at > after).then_some(at)
            }
            Kind::Rate { value, unit } => {
                let period = i128::from(*value) * i128::from(unit.seconds()) * 1_000_000_000;
                let start = bounds.start.as_nanosecond();
                let next = if after < bounds.start {
                    start
                } else {
                    let periods = (after.as_nanosecond() - start) / period + 1;
                    start.checked_add(periods.checked_mul(period)?)?
                };
                let next = Timestamp::from_nanosecond(next).ok()?;
                within(next, bounds.end)
            }
            Kind::Cron(cron) => {
                // Fires no earlier than the start: look from just before it.
                let after = after.max(bounds.start - SignedDuration::from_nanos(1));
                let from = zone.0.to_datetime(after);
                let mut found = None;
                cron.scan(from, |local| {
                    let at = match zone.0.to_ambiguous_timestamp(local).offset() {
                        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(local),
                        // Skipped by a spring-forward: no fire.
                        AmbiguousOffset::Gap { .. } => return false,
                        // Repeated by a fall-back: the first occurrence only. The second one
                        // is earlier as a local time than the minutes already passed, so it
                        // is never a candidate once the first has fired.
                        AmbiguousOffset::Fold { before, .. } => before.to_timestamp(local),
                    };
                    match at {
                        Ok(at) if at > after => {
                            found = Some(at);
                            true
                        }
                        _ => false,
                    }
                })?;
                within(found?, bounds.end)
            }
        }
    }
}

impl std::fmt::Display for Expression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

fn within(at: Timestamp, end: Option<Timestamp>) -> Option<Timestamp> {
    match end {
        Some(end) if at > end => None,
        _ => Some(at),
    }
}

/// `name(body)` → body. No whitespace is allowed around either (AWS refuses ` rate(...)`).
fn inner<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.strip_prefix(name)?
        .strip_prefix('(')?
        .strip_suffix(')')
}

/// `yyyy-mm-ddThh:mm:ss`, exactly: no zone, no fraction.
fn parse_at(body: &str) -> Option<DateTime> {
    let b = body.as_bytes();
    let shape = b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        });
    if !shape {
        return None;
    }
    let n = |range: std::ops::Range<usize>| body[range].parse::<i16>().ok();
    DateTime::new(
        n(0..4)?,
        n(5..7)? as i8,
        n(8..10)? as i8,
        n(11..13)? as i8,
        n(14..16)? as i8,
        n(17..19)? as i8,
        0,
    )
    .ok()
}

/// `value unit`, one space; singular units for 1 only, plural ones for more.
fn parse_rate(body: &str) -> Option<(u32, RateUnit)> {
    let (value, unit) = body.split_once(' ')?;
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: u32 = value.parse().ok()?;
    let (unit, plural) = match unit {
        "minute" => (RateUnit::Minute, false),
        "minutes" => (RateUnit::Minute, true),
        "hour" => (RateUnit::Hour, false),
        "hours" => (RateUnit::Hour, true),
        "day" => (RateUnit::Day, false),
        "days" => (RateUnit::Day, true),
        _ => return None,
    };
    (value >= 1 && plural == (value > 1)).then_some((value, unit))
}

/// An IANA time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone(TimeZone);

/// A time zone name the database does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid time zone: {0}")]
pub struct ZoneError(pub String);

impl Zone {
    pub fn utc() -> Zone {
        Zone(TimeZone::UTC)
    }

    /// An IANA name (`Europe/Paris`, `UTC`, `Etc/GMT+5`), as in ScheduleExpressionTimezone.
    pub fn parse(name: &str) -> Result<Zone, ZoneError> {
        // Bounded before the lookup: AWS caps the member at 50 characters.
        if name.is_empty() || name.len() > 50 {
            return Err(ZoneError(name.to_owned()));
        }
        TimeZone::get(name)
            .map(Zone)
            .map_err(|_| ZoneError(name.to_owned()))
    }

    /// A local wall-clock time of this zone, for views.
    pub fn local(&self, at: Timestamp) -> DateTime {
        self.0.to_datetime(at)
    }
}

#[cfg(test)]
mod tests;
