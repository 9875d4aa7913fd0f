//! Next fires against a brute-force scan: strictly after, on a matching minute, none skipped.

use jiff::Timestamp;
use jiff::tz::{AmbiguousOffset, TimeZone};
use proptest::prelude::*;
use sluice_schedule::{Bounds, Expression, Kind, Zone};

const ZONES: &[&str] = &[
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/Sao_Paulo",
];

fn item(min: i32, max: i32) -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_owned()),
        (min..=max).prop_map(|v| v.to_string()),
        (min..=max, min..=max).prop_map(|(a, b)| format!("{a}-{b}")),
        (min..=max, 1..=(max - min).max(1)).prop_map(|(a, s)| format!("{a}/{s}")),
        (1..=(max - min).max(1)).prop_map(|s| format!("*/{s}")),
    ]
}

fn field(min: i32, max: i32) -> impl Strategy<Value = String> {
    prop::collection::vec(item(min, max), 1..3).prop_map(|items| items.join(","))
}

fn days() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        field(1, 31).prop_map(|dom| (dom, "?".to_owned())),
        Just(("L".to_owned(), "?".to_owned())),
        Just(("LW".to_owned(), "?".to_owned())),
        (1..=31).prop_map(|d| (format!("{d}W"), "?".to_owned())),
        prop::collection::vec(
            item(1, 7).prop_filter("no steps", |i| !i.contains('/')),
            1..3
        )
        .prop_map(|items| ("?".to_owned(), items.join(","))),
        (1..=7).prop_map(|d| ("?".to_owned(), format!("{d}L"))),
        (1..=7, 1..=5).prop_map(|(d, n)| ("?".to_owned(), format!("{d}#{n}"))),
    ]
}

fn cron() -> impl Strategy<Value = String> {
    (
        field(0, 59),
        field(0, 23),
        days(),
        field(1, 12),
        prop_oneof![Just("*".to_owned()), field(1990, 2100)],
    )
        .prop_map(|(m, h, (dom, dow), mon, y)| format!("cron({m} {h} {dom} {mon} {dow} {y})"))
}

fn instant() -> impl Strategy<Value = Timestamp> {
    // 1990 to 2100, on any second.
    (631_152_000i64..4_102_444_800).prop_map(|s| Timestamp::from_second(s).unwrap())
}

/// The instant a local minute fires at, as the Scheduler reads it: none in a gap, the first
/// in a fold.
fn fire_instant(tz: &TimeZone, local: jiff::civil::DateTime) -> Option<Timestamp> {
    match tz.to_ambiguous_timestamp(local).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(local).ok(),
        AmbiguousOffset::Gap { .. } => None,
        AmbiguousOffset::Fold { before, .. } => before.to_timestamp(local).ok(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn cron_next_is_the_first_matching_minute_after(
        text in cron(),
        zone in prop::sample::select(ZONES),
        after in instant(),
    ) {
        let expression = Expression::parse_schedule(&text).unwrap();
        let Kind::Cron(cron) = expression.kind() else { unreachable!() };
        let tz = TimeZone::get(zone).unwrap();
        let bounds = Bounds { start: Timestamp::from_second(0).unwrap(), end: None };
        let next = expression.next_after(&Zone::parse(zone).unwrap(), after, bounds);
        let Some(next) = next else {
            // Nothing within a month of brute force either.
            let mut t = after;
            for _ in 0..(31 * 24 * 60) {
                t += jiff::SignedDuration::from_secs(60);
                let local = tz.to_datetime(t).with().second(0).build().unwrap();
                if cron.matches(local) && fire_instant(&tz, local).is_some_and(|f| f > after) {
                    prop_assert!(false, "{text} in {zone}: none after {after}, but {local} matches");
                }
            }
            return Ok(());
        };
        prop_assert!(next > after, "{text} in {zone}: {next} not after {after}");
        let local = tz.to_datetime(next);
        prop_assert_eq!(local.second(), 0);
        prop_assert!(cron.matches(local), "{text} in {zone}: {next} ({local}) does not match");
        prop_assert_eq!(fire_instant(&tz, local), Some(next));
        // No matching minute in between, when the gap is small enough to scan.
        let gap_minutes = (next - after).as_secs() / 60;
        if gap_minutes < 4 * 24 * 60 {
            let mut t = Timestamp::from_second(after.as_second() - after.as_second().rem_euclid(60)).unwrap();
            while t < next {
                let local = tz.to_datetime(t);
                if local.second() == 0 && cron.matches(local) && t > after && fire_instant(&tz, local) == Some(t) {
                    prop_assert!(false, "{text} in {zone}: {t} ({local}) matches before {next}");
                }
                t += jiff::SignedDuration::from_secs(60);
            }
        }
    }

    #[test]
    fn rate_next_is_one_period_step_after(
        value in 1u32..1000,
        unit in prop::sample::select(&["minute", "hour", "day"][..]),
        start in instant(),
        after in instant(),
    ) {
        let text = format!("rate({value} {unit}{})", if value > 1 { "s" } else { "" });
        let expression = Expression::parse_schedule(&text).unwrap();
        let period = i64::from(value) * match unit { "minute" => 60, "hour" => 3600, _ => 86_400 };
        let bounds = Bounds { start, end: None };
        let next = expression.next_after(&Zone::utc(), after, bounds).unwrap();
        prop_assert!(next > after);
        let since = (next - start).as_secs();
        prop_assert_eq!(since.rem_euclid(period), 0);
        prop_assert!(next == start || (next - after).as_secs() <= period);
    }
}
