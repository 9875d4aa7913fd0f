//! The parser on anything: random text, mutated valid expressions, very long input. It never
//! panics, and what it accepts computes a next fire without panicking.

use jiff::Timestamp;
use proptest::prelude::*;
use sluice_schedule::{Bounds, Expression, Zone};

const SEEDS: &[&str] = &[
    "cron(0 18 ? * MON-FRI *)",
    "cron(15 10 ? * 6L 2002-2005)",
    "cron(0 2 ? * SAT#3 *)",
    "cron(0 0 LW * ? *)",
    "cron(0/5 8-17 15W * ? 2020-2030/2)",
    "rate(5 minutes)",
    "at(2026-12-25T09:00:00)",
];

fn check(text: &str) {
    let parsed = [
        Expression::parse_schedule(text),
        Expression::parse_rule(text),
    ];
    for expression in parsed.into_iter().flatten() {
        let after = Timestamp::from_second(1_765_000_000).unwrap();
        let bounds = Bounds {
            start: after,
            end: None,
        };
        let _ = expression.next_after(&Zone::parse("Europe/Paris").unwrap(), after, bounds);
    }
}

proptest! {
    #[test]
    fn random_text(text in ".{0,64}") {
        check(&text);
    }

    #[test]
    fn random_bodies(kind in prop::sample::select(&["cron", "rate", "at"][..]), body in "[0-9A-Za-z ,*/?#LW-]{0,40}") {
        check(&format!("{kind}({body})"));
    }

    #[test]
    fn mutated_seeds(seed in prop::sample::select(SEEDS), at in 0usize..40, insert in "[0-9 ,*/?#LW()-]{0,3}", delete in 0usize..3) {
        let mut text: Vec<char> = seed.chars().collect();
        let at = at.min(text.len());
        let end = (at + delete).min(text.len());
        text.splice(at..end, insert.chars());
        check(&text.into_iter().collect::<String>());
    }
}

#[test]
fn very_long_input() {
    let many = vec!["1"; 200_000].join(",");
    check(&format!("cron({many} 0 * * ? *)"));
    check(&format!(
        "cron(0 0 * * ? {})",
        vec!["1970-2199/1"; 20_000].join(",")
    ));
    check(&format!("rate({} minutes)", "9".repeat(100_000)));
    check(&format!("at({})", "2".repeat(100_000)));
    check(&"(".repeat(100_000));
    check(&format!("cron({})", " ".repeat(100_000)));
}
