//! Hand-checked fires for each special character, the time-zone rules, AWS's refusals.

use super::*;

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn bounds() -> Bounds {
    Bounds {
        start: ts("1970-01-01T00:00:00Z"),
        end: None,
    }
}

/// The next fire after `after` (UTC), in UTC, or "none".
fn next_in(expression: &str, zone: &str, after: &str) -> String {
    let expression = Expression::parse_schedule(expression).unwrap();
    let zone = Zone::parse(zone).unwrap();
    match expression.next_after(&zone, ts(after), bounds()) {
        Some(at) => at.to_string(),
        None => "none".to_owned(),
    }
}

fn next(expression: &str, after: &str) -> String {
    next_in(expression, "UTC", after)
}

/// The first `count` fires after `after`.
fn fires(expression: &str, zone: &str, after: &str, count: usize) -> Vec<String> {
    let expression = Expression::parse_schedule(expression).unwrap();
    let zone = Zone::parse(zone).unwrap();
    let mut at = ts(after);
    let mut out = Vec::new();
    for _ in 0..count {
        match expression.next_after(&zone, at, bounds()) {
            Some(next) => {
                out.push(next.to_string());
                at = next;
            }
            None => break,
        }
    }
    out
}

#[test]
fn plain_values_and_every() {
    assert_eq!(
        next("cron(0 10 * * ? *)", "2026-12-07T10:00:00Z"),
        "2026-12-08T10:00:00Z"
    );
    assert_eq!(
        next("cron(0 10 * * ? *)", "2026-12-07T09:59:59Z"),
        "2026-12-07T10:00:00Z"
    );
    assert_eq!(
        fires("cron(5,35 14 * * ? *)", "UTC", "2026-12-07T14:05:00Z", 3),
        [
            "2026-12-07T14:35:00Z",
            "2026-12-08T14:05:00Z",
            "2026-12-08T14:35:00Z"
        ]
    );
    assert_eq!(
        next("cron(* * * * ? *)", "2026-12-07T10:00:30Z"),
        "2026-12-07T10:01:00Z"
    );
}

#[test]
fn steps_and_ranges() {
    assert_eq!(
        fires("cron(0/15 * * * ? *)", "UTC", "2026-12-07T10:00:00Z", 4),
        [
            "2026-12-07T10:15:00Z",
            "2026-12-07T10:30:00Z",
            "2026-12-07T10:45:00Z",
            "2026-12-07T11:00:00Z"
        ]
    );
    assert_eq!(
        fires(
            "cron(10-50/20 8-9 * * ? *)",
            "UTC",
            "2026-12-07T00:00:00Z",
            4
        ),
        [
            "2026-12-07T08:10:00Z",
            "2026-12-07T08:30:00Z",
            "2026-12-07T08:50:00Z",
            "2026-12-07T09:10:00Z"
        ]
    );
    assert_eq!(
        next("cron(*/20 22-2 * * ? *)", "2026-12-07T02:40:00Z"),
        "2026-12-07T22:00:00Z"
    );
    assert_eq!(
        next("cron(0 0-23/2 * * ? *)", "2026-12-07T01:00:00Z"),
        "2026-12-07T02:00:00Z"
    );
}

#[test]
fn month_and_day_names() {
    // Monday to Friday: Saturday 2026-12-12 goes to Monday the 14th.
    assert_eq!(
        next("cron(0 18 ? * MON-FRI *)", "2026-12-11T18:00:00Z"),
        "2026-12-14T18:00:00Z"
    );
    // 1 = Sunday, 7 = Saturday.
    assert_eq!(
        next("cron(0 2 ? * 1,7 *)", "2026-12-07T00:00:00Z"),
        "2026-12-12T02:00:00Z"
    );
    assert_eq!(
        next("cron(0 2 ? * 1 *)", "2026-12-07T00:00:00Z"),
        "2026-12-13T02:00:00Z"
    );
    // A range wrapping past Saturday: Friday to Monday.
    assert_eq!(
        fires("cron(0 0 ? * FRI-MON *)", "UTC", "2026-12-08T00:00:00Z", 4),
        [
            "2026-12-11T00:00:00Z",
            "2026-12-12T00:00:00Z",
            "2026-12-13T00:00:00Z",
            "2026-12-14T00:00:00Z"
        ]
    );
    assert_eq!(
        next("cron(0 0 1 JAN,jul ? *)", "2026-12-07T00:00:00Z"),
        "2027-01-01T00:00:00Z"
    );
    assert_eq!(
        next("cron(0 0 1 FEB-MAR ? *)", "2027-02-02T00:00:00Z"),
        "2027-03-01T00:00:00Z"
    );
}

#[test]
fn last_day_of_month() {
    assert_eq!(
        next("cron(0 0 L * ? *)", "2028-02-01T00:00:00Z"),
        "2028-02-29T00:00:00Z"
    );
    assert_eq!(
        next("cron(0 0 L * ? *)", "2026-02-01T00:00:00Z"),
        "2026-02-28T00:00:00Z"
    );
    assert_eq!(
        next("cron(0 0 L * ? *)", "2026-04-30T00:00:00Z"),
        "2026-05-31T00:00:00Z"
    );
}

#[test]
fn last_weekday_of_month() {
    // May 2026 ends on a Sunday: Friday the 29th.
    assert_eq!(
        next("cron(0 0 LW * ? *)", "2026-05-01T00:00:00Z"),
        "2026-05-29T00:00:00Z"
    );
    // August 2026 ends on a Monday.
    assert_eq!(
        next("cron(0 0 LW * ? *)", "2026-08-01T00:00:00Z"),
        "2026-08-31T00:00:00Z"
    );
}

#[test]
fn nearest_weekday() {
    // 15 August 2026 is a Saturday: Friday the 14th.
    assert_eq!(
        next("cron(0 0 15W * ? *)", "2026-08-01T00:00:00Z"),
        "2026-08-14T00:00:00Z"
    );
    // 16 August 2026 is a Sunday: Monday the 17th.
    assert_eq!(
        next("cron(0 0 16W * ? *)", "2026-08-01T00:00:00Z"),
        "2026-08-17T00:00:00Z"
    );
    // 1 August 2026 is a Saturday: never back into July, Monday the 3rd.
    assert_eq!(
        next("cron(0 0 1W * ? *)", "2026-07-31T00:00:00Z"),
        "2026-08-03T00:00:00Z"
    );
    // 31 January 2027 is a Sunday and the month's end: Friday the 29th.
    assert_eq!(
        next("cron(0 0 31W * ? *)", "2027-01-01T00:00:00Z"),
        "2027-01-29T00:00:00Z"
    );
    // 31W skips the months that have no 31st.
    assert_eq!(
        next("cron(0 0 31W * ? *)", "2026-04-01T00:00:00Z"),
        "2026-05-29T00:00:00Z"
    );
}

#[test]
fn last_weekday_of_a_kind() {
    // The last Friday of January 2002 is the 25th (AWS's own example, years 2002-2005).
    assert_eq!(
        next("cron(15 10 ? * 6L 2002-2005)", "2002-01-01T00:00:00Z"),
        "2002-01-25T10:15:00Z"
    );
    assert_eq!(
        next("cron(15 10 ? * 6L 2002-2005)", "2005-12-30T10:15:00Z"),
        "none"
    );
    assert_eq!(
        next("cron(0 0 ? * FRIL *)", "2002-01-01T00:00:00Z"),
        "2002-01-25T00:00:00Z"
    );
    // `L` alone in day-of-week is Saturday.
    assert_eq!(
        next("cron(0 0 ? * L *)", "2027-01-01T00:00:00Z"),
        "2027-01-02T00:00:00Z"
    );
}

#[test]
fn nth_weekday() {
    // The second Tuesday of February 2026 is the 10th.
    assert_eq!(
        next("cron(0 0 ? * 3#2 *)", "2026-02-01T00:00:00Z"),
        "2026-02-10T00:00:00Z"
    );
    assert_eq!(
        next("cron(0 2 ? * SAT#3 *)", "2026-12-07T00:00:00Z"),
        "2026-12-19T02:00:00Z"
    );
    // December 2026's Mondays are 7, 14, 21 and 28; the next fifth Monday is 2027-03-29.
    assert_eq!(
        next("cron(0 0 ? * 2#5 *)", "2026-12-01T00:00:00Z"),
        "2027-03-29T00:00:00Z"
    );
}

#[test]
fn years() {
    // Days of the week 1-5 are Sunday to Thursday: 1 January 2022 is a Saturday.
    assert_eq!(
        next("cron(0/5 5 ? JAN 1-5 2022)", "2021-06-01T00:00:00Z"),
        "2022-01-02T05:00:00Z"
    );
    assert_eq!(next("cron(0 0 1 1 ? 2199)", "2199-01-01T00:00:00Z"), "none");
    assert_eq!(
        next("cron(0 0 1 1 ? 2199)", "2198-01-01T00:00:00Z"),
        "2199-01-01T00:00:00Z"
    );
    // 31 February never comes.
    assert_eq!(next("cron(0 0 31 2 ? *)", "2026-01-01T00:00:00Z"), "none");
}

#[test]
fn zones_are_local_wall_clock() {
    // 09:00 in Paris is 08:00 UTC in winter.
    assert_eq!(
        next_in("cron(0 9 * * ? *)", "Europe/Paris", "2026-12-07T10:00:00Z"),
        "2026-12-08T08:00:00Z"
    );
    assert_eq!(
        next_in(
            "at(2026-12-25T09:00:00)",
            "Europe/Paris",
            "2026-12-07T10:00:00Z"
        ),
        "2026-12-25T08:00:00Z"
    );
}

#[test]
fn a_time_skipped_by_spring_forward_does_not_fire() {
    // New York springs from 02:00 to 03:00 on 2026-03-08: 02:30 does not exist that day.
    assert_eq!(
        fires(
            "cron(30 2 * * ? *)",
            "America/New_York",
            "2026-03-07T12:00:00Z",
            2
        ),
        ["2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"]
    );
}

#[test]
fn an_hour_repeated_by_fall_back_fires_once() {
    // New York falls back from 02:00 EDT to 01:00 EST on 2026-11-01: 01:30 comes twice.
    assert_eq!(
        fires(
            "cron(30 1 * * ? *)",
            "America/New_York",
            "2026-10-31T12:00:00Z",
            2
        ),
        ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]
    );
    assert_eq!(
        fires(
            "cron(0/30 * * * ? *)",
            "America/New_York",
            "2026-11-01T05:00:00Z",
            3
        ),
        [
            "2026-11-01T05:30:00Z",
            "2026-11-01T07:00:00Z",
            "2026-11-01T07:30:00Z"
        ]
    );
}

#[test]
fn rates_count_fixed_periods_from_the_start() {
    let rate = Expression::parse_schedule("rate(5 minutes)").unwrap();
    let start = ts("2026-01-01T00:00:00Z");
    let bounds = Bounds {
        start,
        end: Some(ts("2026-01-01T00:20:00Z")),
    };
    let utc = Zone::utc();
    assert_eq!(
        rate.next_after(&utc, ts("2025-12-31T00:00:00Z"), bounds),
        Some(start)
    );
    assert_eq!(
        rate.next_after(&utc, start, bounds),
        Some(ts("2026-01-01T00:05:00Z"))
    );
    assert_eq!(
        rate.next_after(&utc, ts("2026-01-01T00:07:00Z"), bounds),
        Some(ts("2026-01-01T00:10:00Z"))
    );
    assert_eq!(
        rate.next_after(&utc, ts("2026-01-01T00:20:00Z"), bounds),
        None
    );
    // A day is 24 hours, across a spring-forward too.
    let daily = Expression::parse_schedule("rate(1 day)").unwrap();
    let ny = Zone::parse("America/New_York").unwrap();
    let bounds = Bounds {
        start: ts("2026-03-07T14:00:00Z"),
        end: None,
    };
    assert_eq!(
        daily.next_after(&ny, ts("2026-03-07T14:00:00Z"), bounds),
        Some(ts("2026-03-08T14:00:00Z"))
    );
}

#[test]
fn one_time_schedules_ignore_bounds() {
    let at = Expression::parse_schedule("at(2026-12-25T09:00:00)").unwrap();
    assert!(at.is_one_time());
    let bounds = Bounds {
        start: ts("2027-01-01T00:00:00Z"),
        end: Some(ts("2027-02-01T00:00:00Z")),
    };
    assert_eq!(
        at.next_after(&Zone::utc(), ts("2026-12-01T00:00:00Z"), bounds),
        Some(ts("2026-12-25T09:00:00Z"))
    );
    assert_eq!(
        at.next_after(&Zone::utc(), ts("2026-12-25T09:00:00Z"), bounds),
        None
    );
}

#[test]
fn crons_fire_from_the_start_date_to_the_end_date() {
    let cron = Expression::parse_schedule("cron(0 12 * * ? *)").unwrap();
    let bounds = Bounds {
        start: ts("2026-12-10T12:00:00Z"),
        end: Some(ts("2026-12-11T12:00:00Z")),
    };
    let utc = Zone::utc();
    assert_eq!(
        cron.next_after(&utc, ts("2026-12-01T00:00:00Z"), bounds),
        Some(ts("2026-12-10T12:00:00Z"))
    );
    assert_eq!(
        cron.next_after(&utc, ts("2026-12-10T12:00:00Z"), bounds),
        Some(ts("2026-12-11T12:00:00Z"))
    );
    assert_eq!(
        cron.next_after(&utc, ts("2026-12-11T12:00:00Z"), bounds),
        None
    );
}

/// Refused by EventBridge Scheduler (recorded against AWS by LocalStack's snapshot tests),
/// and a few more from AWS's documented rules.
const REFUSED: &[&str] = &[
    "cron(0 1 * * * *)",
    "cron(7 20 * * NOT *)",
    "cron(INVALID)",
    "cron(0 dummy ? * MON-FRI *)",
    "cron(71 8 1 * ? *)",
    "cron()",
    "rate(10 seconds)",
    "rate(10 years)",
    "rate()",
    "rate(10)",
    "rate(10 minutess)",
    "rate(foo minutes)",
    "rate(-10 minutes)",
    "rate( 10 minutes )",
    " rate(10 minutes)",
    "at(2021-12-31T23:59:59Z)",
    "at(2021-12-31)",
    // EventBridge's: singular only for 1, plural only above, lower case, at least 1.
    "rate(1 minutes)",
    "rate(1 hours)",
    "rate(1 days)",
    "rate(10 minute)",
    "rate(10 hour)",
    "rate(10 day)",
    "rate(0 minutes)",
    "rate(10 MINUTES)",
    // Both day fields `?`, or neither.
    "cron(0 1 ? * ? *)",
    "cron(0 1 1 * 1 *)",
    // Out of range.
    "cron(0 24 * * ? *)",
    "cron(0 0 32 * ? *)",
    "cron(0 0 0 * ? *)",
    "cron(0 0 * 13 ? *)",
    "cron(0 0 ? * 8 *)",
    "cron(0 0 ? * 0 *)",
    "cron(0 0 * * ? 1969)",
    "cron(0 0 * * ? 2200)",
    "cron(0 0 ? * 2#6 *)",
    "cron(0 0 ? * 2#0 *)",
    "cron(0 0 32W * ? *)",
    "cron(0/0 * * * ? *)",
    "cron(0/60 * * * ? *)",
    // Field count and shape.
    "cron(0 0 * * ?)",
    "cron(0 0 * * ? * *)",
    "cron(0  0 * * ? *)",
    "cron(0,,1 0 * * ? *)",
    "cron(0- 0 * * ? *)",
    "cron(0 0 L,1 * ? *)",
    "cron(0 0 ? * 2/2 *)",
    "at(2026-02-30T00:00:00)",
    "at(2026-12-31T24:00:00)",
    "at(2026-12-31T23:59:59.000)",
    "every(5 minutes)",
    "",
];

const ACCEPTED: &[&str] = &[
    "cron(0-15/1 8-8 ? * 2,3,4,5,6,7 *)",
    "cron(30-30 13-13 ? * 2,4,6 *)",
    "cron(1-31/30 1-1 ? * 1,7 *)",
    "cron(0 18 ? * MON-FRI *)",
    "cron(*/15 * * * ? *)",
    "cron(0-59/10 0-23/2 ? * * *)",
    "cron(0 2 ? * SAT *)",
    "cron(0 12 * * ? *)",
    "cron(5,35 14 * * ? *)",
    "cron(15 10 ? * 6L 2002-2005)",
    "cron(0 2 ? * SAT#3 *)",
    "cron(* * ? * SAT#3 *)",
    "cron(0/5 5 ? JAN 1-5 2022)",
    "cron(0 8 1 * ? *)",
    "cron(0/30 20-23 ? * MON-FRI *)",
    "cron(0 0 LW * ? *)",
    "cron(0 0 15W * ? *)",
    "cron(0 0 L * ? *)",
    "rate(1 minute)",
    "rate(1 hour)",
    "rate(1 day)",
    "rate(5 minutes)",
    "rate(2 hours)",
    "rate(7 days)",
    "at(2022-12-31T23:59:59)",
];

#[test]
fn refuses_what_aws_refuses_with_its_message() {
    for text in REFUSED {
        let error = Expression::parse_schedule(text).expect_err(text);
        assert_eq!(
            error.schedule_message(),
            format!("Invalid Schedule Expression {text}.")
        );
        assert_eq!(
            Expression::parse_rule(text).expect_err(text).rule_message(),
            "Parameter ScheduleExpression is not valid."
        );
    }
}

#[test]
fn accepts_what_aws_accepts() {
    for text in ACCEPTED {
        let expression = Expression::parse_schedule(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(expression.to_string(), *text);
        if !text.starts_with("at(") {
            Expression::parse_rule(text).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

#[test]
fn rules_take_no_at() {
    let error = Expression::parse_rule("at(2026-12-25T09:00:00)").unwrap_err();
    assert_eq!(error.reason, Reason::AtInRule);
}

#[test]
fn zones() {
    assert!(Zone::parse("Europe/Paris").is_ok());
    assert!(Zone::parse("UTC").is_ok());
    assert!(Zone::parse("America/Argentina/Buenos_Aires").is_ok());
    for name in [
        "",
        "Mars/Olympus",
        "Europe/",
        "../../etc/passwd",
        &"A".repeat(200),
    ] {
        assert_eq!(Zone::parse(name), Err(ZoneError(name.to_owned())));
    }
}
